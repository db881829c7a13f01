//! Data files: .npy I/O, dataset shards, normalisation.
