"""The learning experiments, one module each; every public function returns flat row dicts.

- training: online TBPTT(k1, k2) / BPTT on fresh sequences of a task (experiments 1, 2);
- learnable_lag: final accuracy on delayed recall against the lag (experiment 1);
- loss_curves: held-out loss against updates and seconds (experiment 2);
- gradient_bias: TBPTT against BPTT gradients, cosine and relative error (experiment 3);
- gradient_decay: ||dL_t / dh_{t-k}|| against k per spectral radius (experiment 4).
"""
