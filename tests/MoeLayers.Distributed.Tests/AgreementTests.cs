using FluentAssertions;

namespace MoeLayers.Distributed.Tests
{
    public sealed class AgreementTests
    {
        [Fact]
        public void EqualReportsAgree()
        {
            Agreement.Compare("AllToAll", new[] { "float32 rows [*, 4]", "float32 rows [*, 4]" }, new[] { false, false }, "rule").Should().BeNull();
        }

        [Fact]
        public void AnErrorOnOneRankIsADisagreementEvenWhenTheTextsMatch()
        {
            var e = Agreement.Compare("AllToAll", new[] { "x", "x" }, new[] { false, true }, "Rule.");
            e.Should().NotBeNull();
            e!.Message.Should().Be("AllToAll: the ranks' arguments do not agree: rank 0: x; rank 1 reported an error: x. Rule.");
            e.DifferingRanks.Should().Equal(1);
        }

        [Fact]
        public void TheLargestGroupIsTheReferenceAndTiesGoToTheLowestRank()
        {
            var e = Agreement.Compare("AllReduce", new[] { "a", "b", "b", "c" }, new bool[4], "Rule.")!;
            e.Message.Should().Be("AllReduce: the ranks' arguments do not agree: rank 0: a; ranks 1, 2: b; rank 3: c. Rule.");
            e.DifferingRanks.Should().Equal(0, 3);
            Agreement.Compare("AllReduce", new[] { "a", "b" }, new bool[2], "Rule.")!.DifferingRanks.Should().Equal(1);
        }

        [Fact]
        public void LongReportsAreClipped()
        {
            var e = Agreement.Compare("Check", new[] { new string('x', 1000), "y" }, new bool[2], "Rule.")!;
            e.Message.Should().Contain(new string('x', Agreement.MaxReportChars) + "…;").And.NotContain(new string('x', Agreement.MaxReportChars + 1));
        }
    }
}
