using FluentAssertions;
using MoeLayers.Samples.Mnist.Sweep;

namespace MoeLayers.Samples.Tests
{
    public sealed class RoutingOverlapTests
    {
        [Fact]
        public void Overlap_is_the_shared_routing_mass()
        {
            // Columns: class 0 goes 70/30 to experts 0/1, class 1 goes 20/80, class 2 exactly like class 0.
            var shares = new[,] { { 0.7, 0.2, 0.7 }, { 0.3, 0.8, 0.3 } };

            RoutingOverlap.Overlap(shares, 0, 1).Should().BeApproximately(0.2 + 0.3, 1e-12);
            RoutingOverlap.Overlap(shares, 0, 2).Should().BeApproximately(1.0, 1e-12);
        }

        [Fact]
        public void Confusions_count_both_directions() =>
            RoutingOverlap.Confusions(new long[,] { { 9, 2 }, { 5, 7 } }, 0, 1).Should().Be(7);

        [Fact]
        public void Pairs_list_each_unordered_pair_once() =>
            RoutingOverlap.Pairs(4).Should().Equal((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3));

        [Fact]
        public void Spearman_matches_hand_computed_values()
        {
            RoutingOverlap.Spearman(new[] { 1.0, 2, 3, 4 }, new[] { 10.0, 20, 30, 40 }).Should().BeApproximately(1, 1e-12);
            RoutingOverlap.Spearman(new[] { 1.0, 2, 3, 4 }, new[] { 4.0, 3, 2, 1 }).Should().BeApproximately(-1, 1e-12);
            // Ranks x = 1,2,3,4,5 and y = 2,1,4,3,5: ρ = 1 − 6·Σd²/(n(n²−1)) = 1 − 6·4/120 = 0.8.
            RoutingOverlap.Spearman(new[] { 1.0, 2, 3, 4, 5 }, new[] { 5.0, 1, 7, 6, 9 }).Should().BeApproximately(0.8, 1e-12);
            // Ties take their mean rank: x ranks 1.5,1.5,3 and y ranks 1,2,3 → Pearson of those = √3/2.
            RoutingOverlap.Spearman(new[] { 1.0, 1, 2 }, new[] { 1.0, 2, 3 }).Should().BeApproximately(System.Math.Sqrt(3) / 2, 1e-12);
            double.IsNaN(RoutingOverlap.Spearman(new[] { 1.0, 1, 1 }, new[] { 1.0, 2, 3 })).Should().BeTrue();
        }
    }
}
