using System;
using System.Linq;
using FluentAssertions;
using MoeLayers.Samples.TinyShakespeare.Model;

namespace MoeLayers.Samples.Tests.TinyShakespeare
{
    public sealed class RouterNamesTests
    {
        [Theory]
        [InlineData("top-k", RouterKind.TopK)]
        [InlineData("TopK", RouterKind.TopK)]
        [InlineData("noisy-top-k", RouterKind.NoisyTopK)]
        [InlineData("noisy_topk", RouterKind.NoisyTopK)]
        [InlineData("Switch", RouterKind.Switch)]
        public void Names_parse_ignoring_case_and_separators(string name, RouterKind expected)
        {
            RouterNames.Parse(name).Should().Be(expected);
        }

        [Fact]
        public void Every_router_of_the_library_round_trips_through_its_display_name()
        {
            foreach (var kind in RouterNames.Causal)
                RouterNames.Parse(RouterNames.Display(kind)).Should().Be(kind);
            RouterNames.Display(RouterKind.NoisyTopK).Should().Be("noisy-top-k");
        }

        [Fact]
        public void Unknown_names_list_the_choices()
        {
            FluentActions.Invoking(() => RouterNames.Parse("hash")).Should().Throw<ArgumentException>()
                .WithMessage("*'hash' is unknown*top-k, noisy-top-k, switch*");
        }

        [Fact]
        public void Expert_choice_is_refused_without_the_opt_in()
        {
            var act = () => RouterNames.Parse("expert-choice");

            if (RouterNames.All.Any(RouterNames.LeaksFutureTokens))
            {
                act.Should().Throw<ArgumentException>().WithMessage("*--allow-future-leak*");
                RouterNames.Parse("expert-choice", allowFutureLeak: true).ToString().Should().Be(RouterNames.ExpertChoiceMember);
            }
            else
            {
                act.Should().Throw<ArgumentException>().WithMessage("*no expert-choice router yet*");
            }
        }

        [Fact]
        public void Switch_defaults_to_one_expert_per_token()
        {
            RouterNames.DefaultTopK(RouterKind.Switch, 2).Should().Be(1);
            RouterNames.DefaultTopK(RouterKind.NoisyTopK, 2).Should().Be(2);
        }
    }
}
