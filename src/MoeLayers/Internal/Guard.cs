using System;
using System.Linq;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>Argument checks that run on tensor metadata only, before any native computation.</summary>
    internal static class Guard
    {
        public static void Positive(long value, string name)
        {
            if (value < 1) throw new ArgumentOutOfRangeException(name, value, $"{name} must be at least 1; got {value}.");
        }

        public static void InRange(long value, long min, long max, string name)
        {
            if (value < min || value > max)
                throw new ArgumentOutOfRangeException(name, value, $"{name} must be in [{min}, {max}]; got {value}.");
        }

        public static void InRange(double value, double min, double max, string name, bool maxInclusive = true)
        {
            var ok = value >= min && (maxInclusive ? value <= max : value < max);
            if (!ok || double.IsNaN(value))
                throw new ArgumentOutOfRangeException(name, value, $"{name} must be in [{min}, {max}{(maxInclusive ? "]" : ")")}; got {value}.");
        }

        public static void Defined<TEnum>(TEnum value, string name) where TEnum : struct, Enum
        {
            if (!Enum.IsDefined(value))
                throw new ArgumentOutOfRangeException(name, value, $"{name} must be one of {string.Join(", ", Enum.GetNames<TEnum>())}; got {value}.");
        }

        public static string Shape(Tensor t) => "[" + string.Join(", ", t.shape) + "]";

        /// <summary>Checks rank and the sizes given (negative entries match any size).</summary>
        public static void HasShape(Tensor t, string name, params long[] expected)
        {
            var actual = t.shape;
            var ok = actual.Length == expected.Length && actual.Zip(expected, (a, e) => e < 0 || a == e).All(x => x);
            if (!ok)
            {
                var want = "[" + string.Join(", ", expected.Select(e => e < 0 ? "*" : e.ToString())) + "]";
                throw new ArgumentException($"{name} must have shape {want}; got {Shape(t)}.", name);
            }
        }

        public static void SameDevice(Tensor t, Device expected, string name)
        {
            if (t.device_type != expected.type || (expected.type != TorchSharp.DeviceType.CPU && t.device_index != expected.index))
                throw new ArgumentException($"{name} is on {t.device} but the module's parameters are on {expected}; move one of them with .to(device).", name);
        }

        public static void DType(Tensor t, ScalarType expected, string name)
        {
            if (t.dtype != expected)
                throw new ArgumentException($"{name} has dtype {t.dtype} but the module's parameters are {expected}; convert one of them with .to(dtype).", name);
        }

        public static void Floating(Tensor t, string name)
        {
            if (!t.is_floating_point())
                throw new ArgumentException($"{name} must be a floating-point tensor; got {t.dtype}.", name);
        }
    }
}
