using BenchmarkDotNet.Attributes;

namespace MoeLayers.Benchmarks
{
    /// <summary>BenchmarkDotNet view of <see cref="DispatchCases"/> (forward + backward per invocation).</summary>
    [MemoryDiagnoser(false)]
    public class MoeLayerBenchmarks
    {
        private DispatchCases? _cases;

        [ParamsSource(nameof(Shapes))]
        public BenchShape Shape { get; set; } = BenchShape.Small;

        public static BenchShape[] Shapes => new[] { BenchShape.Small, BenchShape.Large };

        [GlobalSetup]
        public void Setup() => _cases = new DispatchCases(Shape);

        [GlobalCleanup]
        public void Cleanup() => _cases?.Dispose();

        [Benchmark(Baseline = true)]
        public void Floor() => Run(c => c.Floor());

        [Benchmark]
        public void MoeAuto() => Run(c => c.Layer(DispatchStrategy.Auto));

        [Benchmark]
        public void MoeGrouped() => Run(c => c.Layer(DispatchStrategy.Grouped));

        [Benchmark]
        public void MoePadded() => Run(c => c.Layer(DispatchStrategy.Padded));

        [Benchmark]
        public void LoopReference() => Run(c => c.Layer(DispatchStrategy.Reference));

        private void Run(System.Action<DispatchCases> action)
        {
            using var scope = TorchSharp.torch.NewDisposeScope();
            action(_cases!);
        }
    }
}
