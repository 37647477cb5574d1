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
            foreach (var choice in RouterNames.AllChoices)
                RouterNames.ParseChoice(choice.Name, allowFutureLeak: true).Should().Be(choice);
            RouterNames.Display(RouterKind.NoisyTopK).Should().Be("noisy-top-k");
        }

        [Fact]
        public void Compare_trains_every_causal_router_and_both_styles_but_not_expert_choice()
        {
            RouterNames.CausalChoices.Select(c => c.Name).Should()
                .Equal("top-k", "noisy-top-k", "switch", "autonomy-of-experts", "deepseek", "qwen");
            RouterNames.AllChoices.Select(c => c.Name).Should().EndWith("expert-choice");
        }

        [Theory]
        [InlineData("deepseek", LayerStyle.DeepSeek)]
        [InlineData("DeepSeek", LayerStyle.DeepSeek)]
        [InlineData("qwen", LayerStyle.Qwen)]
        public void Styles_parse_to_the_top_k_router(string name, LayerStyle style)
        {
            RouterNames.ParseChoice(name).Should().Be(new RouterChoice(RouterKind.TopK, style));
            FluentActions.Invoking(() => RouterNames.Parse(name)).Should().Throw<ArgumentException>().WithMessage("*layer style*");
        }

        [Fact]
        public void Unknown_names_list_the_choices()
        {
            FluentActions.Invoking(() => RouterNames.Parse("hash")).Should().Throw<ArgumentException>()
                .WithMessage("*'hash' is unknown*top-k, noisy-top-k, switch, autonomy-of-experts, deepseek, qwen*");
        }

        [Theory]
        [InlineData("expert-choice")]
        [InlineData("ec")]
        public void Expert_choice_is_refused_with_the_reason_unless_the_leak_is_allowed(string name)
        {
            FluentActions.Invoking(() => RouterNames.ParseChoice(name)).Should().Throw<ArgumentException>()
                .WithMessage("*refused*depends on later tokens*sees the future*not comparable*--allow-future-leak*");

            RouterNames.Parse(name, allowFutureLeak: true).Should().Be(RouterKind.ExpertChoice);
        }

        [Fact]
        public void Help_says_why_expert_choice_is_refused()
        {
            RouterNames.Help.Should().Contain("expert-choice (ec) is refused unless --allow-future-leak is given, because").And.Contain("later tokens")
                .And.NotContain("no expert-choice router yet");
        }

        [Fact]
        public void An_accepted_expert_choice_model_is_built_non_causal_and_without_a_balance_loss()
        {
            var options = (TinyModels.Config() with { Router = RouterKind.ExpertChoice }).ToMoeOptions();

            options.Causal.Should().BeFalse("the library refuses expert choice unless the layer is declared non-causal");
            options.LoadBalancingLoss.Should().Be(LoadBalancingLossKind.None);
            MoeLayerOptionsValidator.Failures(options).Should().BeEmpty();
            TinyModels.Config().ToMoeOptions().Causal.Should().BeTrue("every other router keeps the decoder causal");
        }

        [Fact]
        public void Switch_defaults_to_one_expert_per_token()
        {
            RouterNames.DefaultTopK(RouterKind.Switch, 2).Should().Be(1);
            RouterNames.DefaultTopK(RouterKind.NoisyTopK, 2).Should().Be(2);
        }
    }
}
