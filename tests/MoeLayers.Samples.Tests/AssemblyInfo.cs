// libtorch's random generator is process-global, and both samples' tests seed it (MNIST training, tiny-shakespeare
// models): test classes running in parallel would draw from each other's sequences and break the determinism tests.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
