using System;
using FluentAssertions;
using MoeLayers.Samples.Mnist.Cli;

namespace MoeLayers.Samples.Tests
{
    public sealed class ValueListTests
    {
        [Theory]
        [InlineData("8", new[] { 8 })]
        [InlineData("1-4", new[] { 1, 2, 3, 4 })]
        [InlineData("1,2, 3", new[] { 1, 2, 3 })]
        [InlineData("1-3,8", new[] { 1, 2, 3, 8 })]
        [InlineData("5-5", new[] { 5 })]
        [InlineData("-2", new[] { -2 })]
        public void Integers_accept_lists_and_ranges(string text, int[] expected) =>
            ValueList.Integers(text).Should().Equal(expected);

        [Theory]
        [InlineData("4-2", "'4-2' in '4-2' is not a range a-b with a ≤ b.")]
        [InlineData("1,,2", "'1,,2' has an empty item; write e.g. 1,2,3 or 1-10.")]
        [InlineData("two", "'two' in 'two' is not an integer.")]
        [InlineData("1-3,2", "'1-3,2' lists 2 more than once.")]
        public void Integers_reject_bad_text(string text, string message) =>
            FluentActions.Invoking(() => ValueList.Integers(text)).Should().Throw<FormatException>().WithMessage(message);

        [Fact]
        public void Numbers_parse_invariant_floats() =>
            ValueList.Numbers("0,1e-3,0.01, 1").Should().Equal(0, 0.001, 0.01, 1);

        [Theory]
        [InlineData("0,x", "'x' in '0,x' is not a number.")]
        [InlineData("NaN", "'NaN' in 'NaN' is not a number.")]
        [InlineData("0.1,1e-1", "'0.1,1e-1' lists 0.1 more than once.")]
        public void Numbers_reject_bad_text(string text, string message) =>
            FluentActions.Invoking(() => ValueList.Numbers(text)).Should().Throw<FormatException>().WithMessage(message);
    }
}
