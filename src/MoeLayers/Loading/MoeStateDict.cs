using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// State-dict loading that checks everything before it changes anything, for any module (TorchSharp's own
    /// <c>load_state_dict</c> names no key when a shape is wrong, and may have copied some tensors when it fails).
    /// MoE layers use it for their own <c>load_state_dict</c> and <c>load</c>; call it on the whole model to get the same
    /// checks there.
    /// </summary>
    public static class MoeStateDict
    {
        /// <summary>
        /// Copies <paramref name="source"/> into <paramref name="module"/>'s parameters and buffers. Every problem — a missing
        /// or unexpected key (strict), a shape mismatch, a floating/non-floating dtype mismatch — is reported in one
        /// <see cref="ArgumentException"/> naming each key with the expected and the actual shape, before any tensor is
        /// modified. Floating dtypes are converted (the router keeps float32 when a bf16 checkpoint is loaded).
        /// </summary>
        /// <param name="module">The module to load into.</param>
        /// <param name="source">Values by state-dict name.</param>
        /// <param name="strict">Refuse missing and unexpected keys; when false they are returned instead.</param>
        /// <param name="skip">Keys to leave alone, or null.</param>
        /// <returns>The module's keys the source lacks, and the source's keys the module lacks.</returns>
        public static (IList<string> MissingKeys, IList<string> UnexpectedKeys) Load(nn.Module module,
            IReadOnlyDictionary<string, Tensor> source, bool strict = true, IList<string>? skip = null) =>
            Load(module, source, strict, skip, exactDTypes: false);

        internal static (IList<string> MissingKeys, IList<string> UnexpectedKeys) Load(nn.Module module,
            IReadOnlyDictionary<string, Tensor> source, bool strict, IList<string>? skip, bool exactDTypes)
        {
            ArgumentNullException.ThrowIfNull(module);
            ArgumentNullException.ThrowIfNull(source);
            var skipped = new HashSet<string>(skip ?? Array.Empty<string>());
            var destination = module.state_dict();
            var missing = destination.Keys.Where(k => !skipped.Contains(k) && !source.ContainsKey(k)).ToList();
            var unexpected = source.Keys.Where(k => !skipped.Contains(k) && !destination.ContainsKey(k)).ToList();

            var problems = new List<string>();
            if (strict)
            {
                problems.AddRange(missing.Select(k => $"missing key '{k}' (expected shape {Shape(destination[k])}, {destination[k].dtype})"));
                problems.AddRange(unexpected.Select(k => $"unexpected key '{k}' (shape {Shape(source[k])})"));
            }
            var common = source.Keys.Where(k => !skipped.Contains(k) && destination.ContainsKey(k)).ToList();
            foreach (var key in common)
            {
                var (target, value) = (destination[key], source[key]);
                if (value.IsInvalid)
                {
                    problems.Add($"key '{key}': the tensor has been disposed");
                    continue;
                }
                if (!target.shape.SequenceEqual(value.shape))
                    problems.Add($"key '{key}': expected shape {Shape(target)}, got {Shape(value)}");
                var convertible = exactDTypes ? target.dtype == value.dtype : target.is_floating_point() == value.is_floating_point() && (target.is_floating_point() || target.dtype == value.dtype);
                if (!convertible)
                    problems.Add($"key '{key}': expected dtype {target.dtype}, got {value.dtype}");
            }
            if (problems.Count > 0)
                throw new ArgumentException(
                    $"The state dict does not fit module '{module.GetName()}'; nothing was loaded: {string.Join("; ", problems)}.", nameof(source));

            using (no_grad())
            {
                foreach (var key in common) destination[key].copy_(source[key]);
            }
            return (missing, unexpected);
        }

        /// <summary>Reads a whole state saved with TorchSharp's <c>Module.save</c> into new CPU tensors.</summary>
        internal static Dictionary<string, Tensor> ReadTorchSharpFormat(BinaryReader reader)
        {
            var count = DecodeLength(reader);
            var result = new Dictionary<string, Tensor>((int)count);
            for (long i = 0; i < count; i++)
            {
                var key = reader.ReadString();
                result[key] = TensorExtensionMethods.Load(reader);
            }
            return result;
        }

        /// <summary>The LEB128 length prefix TorchSharp writes before the entries.</summary>
        private static long DecodeLength(BinaryReader reader)
        {
            long value = 0;
            for (var shift = 0; shift < 64; shift += 7)
            {
                var b = reader.ReadByte();
                value |= (long)(b & 0x7f) << shift;
                if ((b & 0x80) == 0) return value;
            }
            throw new InvalidDataException("The saved state's entry count is not a valid LEB128 number.");
        }

        private static string Shape(Tensor t) => Guard.Shape(t);
    }
}
