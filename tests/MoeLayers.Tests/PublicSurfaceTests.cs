using System.Linq;
using FluentAssertions;
using MoeLayers.Cuda;

namespace MoeLayers.Tests
{
    /// <summary>The public surface: one namespace per package, and no public type a user cannot use.</summary>
    public class PublicSurfaceTests
    {
        [Fact]
        public void EveryPublicTypeOfTheCoreIsInTheMoeLayersNamespace()
        {
            typeof(MoeLayer).Assembly.GetExportedTypes().Select(t => t.Namespace).Distinct().Should().Equal("MoeLayers");
        }

        [Fact]
        public void EveryPublicTypeOfTheCudaPackageIsInMoeLayersCuda()
        {
            typeof(CudaDispatchInfo).Assembly.GetExportedTypes().Select(t => t.Namespace).Distinct().Should().Equal("MoeLayers.Cuda");
        }

        [Fact]
        public void RoutersExpertBanksAndDispatchInternalsAreNotPublic()
        {
            foreach (var type in new[] { typeof(TopKRouter), typeof(ExpertBank), typeof(LowRankExpertBank), typeof(DispatchPlan), typeof(Capacity), typeof(RoutedTokens) })
                type.IsPublic.Should().BeFalse(type.Name);
        }
    }
}
