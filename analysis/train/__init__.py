"""Training: modes (transfer / finetune / scratch / svm), cached trunk, runs and metrics."""
