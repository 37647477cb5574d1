using System;
using System.Linq;
using FluentAssertions;
using MoeLayers.Samples.Mnist.Cli;
using MoeLayers.Samples.Mnist.Sweep;

namespace MoeLayers.Samples.Tests
{
    public sealed class SweepGridTests
    {
        [Fact]
        public void The_default_grid_has_131_configurations_per_seed()
        {
            var cases = SweepGrid.Cases(ValueList.Integers(MnistCommand.SweepExperts), ValueList.Integers(MnistCommand.SweepTopK),
                ValueList.Numbers(MnistCommand.SweepLoadCoefficients), new[] { 1, 2 }, RouterKind.TopK);

            // ne = 1: one run; ne = 2: k ∈ {1, 2} × 5 lc; ne = 3..10: 3 k × 5 lc.
            cases.Should().HaveCount(2 * (1 + 10 + 8 * 15));
            cases.Where(c => c.Model.NumExperts == 1).Select(c => (c.Model.TopK, c.Model.LoadCoefficient, c.Seed))
                .Should().Equal((1, 0.0, 1), (1, 0.0, 2));
            cases.Should().OnlyContain(c => c.Model.TopK <= c.Model.NumExperts);
            cases.Select(c => c.Model).Distinct().Should().HaveCount(131);
        }

        [Fact]
        public void Runs_are_ordered_by_ne_then_k_then_lc_then_seed()
        {
            var cases = SweepGrid.Cases(new[] { 3, 2 }, new[] { 1, 2 }, new[] { 0.1, 0.0 }, new[] { 5 }, RouterKind.TopK);

            cases.Select(c => (c.Model.NumExperts, c.Model.TopK, c.Model.LoadCoefficient)).Should().Equal(
                (3, 1, 0.1), (3, 1, 0.0), (3, 2, 0.1), (3, 2, 0.0), (2, 1, 0.1), (2, 1, 0.0), (2, 2, 0.1), (2, 2, 0.0));
            cases.Should().OnlyContain(c => c.Model.Router == RouterKind.TopK && c.Seed == 5);
        }

        [Fact]
        public void Invalid_grids_are_rejected_with_the_reason()
        {
            FluentActions.Invoking(() => SweepGrid.Cases(new[] { 4 }, new[] { 2 }, new[] { 0.0 }, new[] { 1 }, RouterKind.Switch))
                .Should().Throw<ArgumentException>().WithMessage("*TopK must be 1 for the Switch router*");
            FluentActions.Invoking(() => SweepGrid.Cases(new[] { 2 }, new[] { 3 }, new[] { 0.0 }, new[] { 1 }, RouterKind.TopK))
                .Should().Throw<ArgumentException>().WithMessage("The grid has no run: every k exceeds every ne.*");
            FluentActions.Invoking(() => SweepGrid.Cases(new[] { 2 }, new[] { 1 }, Array.Empty<double>(), new[] { 1 }, RouterKind.TopK))
                .Should().Throw<ArgumentException>().WithMessage("loadCoefficients must list at least one value.*");
        }
    }
}
