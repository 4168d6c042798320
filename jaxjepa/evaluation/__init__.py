"""Evaluation of trained runs: every figure on fresh trajectories, per seed, vmapped over seeds.

    probes     what the latent knows: least-squares probes to position and velocity, and the
               reference's published Adam protocol beside them
    forecast   how long the latent rollout stays within 1 px (one lax.scan), decoded vs persistence
    anomaly    surprise in latent and pixel space, indexed by the frame it scores; hit rate, ROC-AUC,
               false alarms
    ablation   the collapse ablation's variants, run directories and figures
    figures    the PNG/GIF figures; report: RESULTS.md from results/metrics.json
    settings   the measurement's constants (EvalSettings), evaluation keys, mean +- std over seeds
Each evaluation is a pure function of one seed's params and evaluation key; eval.py jit(vmap)s it
over the seeds' stacked params.
"""
