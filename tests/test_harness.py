"""The test session itself: README's command keeps each module's tests on one pytest-xdist worker."""


def test_under_loadgroup_each_test_is_in_its_modules_group(request):
    """Were the groups named after xdist read them, every test would be scheduled alone: module fixtures
    (a trained run, a process cluster, a browser page) would be built on both workers, and tests that read a
    page another test advanced would see it fresh."""
    if request.config.getoption("dist", "no") != "loadgroup":
        return
    module = request.node.module.__name__.rpartition(".")[2]
    assert request.node.nodeid.endswith(f"@{module}")
