using System;
using System.Collections.Generic;
using System.Linq;
using static TorchSharp.torch;

namespace MoeLayers.Interop
{
    /// <summary>
    /// Saves and loads state dicts, plain or a module's (<c>module.state_dict()</c>: parameters and persistent buffers),
    /// as safetensors files. Loading validates every key, shape and dtype and reads every tensor before it modifies the
    /// first one, so a failed load leaves the target exactly as it was; values are then copied under <c>torch.no_grad()</c>.
    /// </summary>
    public static class SafetensorsStateDict
    {
        /// <summary>Writes a plain state dict; keys get <paramref name="prefix"/> prepended when one is given.</summary>
        /// <param name="path">The file to write (atomically).</param>
        /// <param name="stateDict">Key → tensor (F32, F16 or BF16).</param>
        /// <param name="prefix">Prepended to every key, e.g. "model.layers.3.mlp.", or null.</param>
        /// <param name="metadata">Optional <c>"__metadata__"</c> map.</param>
        public static void Save(string path, IReadOnlyDictionary<string, Tensor> stateDict, string? prefix = null,
            IReadOnlyDictionary<string, string>? metadata = null)
        {
            ArgumentNullException.ThrowIfNull(stateDict);
            var keyed = string.IsNullOrEmpty(prefix)
                ? stateDict
                : stateDict.ToDictionary(kv => prefix + kv.Key, kv => kv.Value, StringComparer.Ordinal);
            SafetensorsWriter.Write(path, keyed, metadata);
        }

        /// <summary>
        /// Reads every tensor of a file, or those under <paramref name="prefix"/> with the prefix removed. The caller owns
        /// the returned tensors.
        /// </summary>
        /// <param name="path">A safetensors file.</param>
        /// <param name="prefix">A key prefix selecting one block, or null for every key.</param>
        public static Dictionary<string, Tensor> Load(string path, string? prefix = null)
        {
            using var file = SafetensorsFile.Open(path);
            return file.ReadAll(prefix);
        }

        /// <summary>Writes <c>module.state_dict()</c>; keys get <paramref name="prefix"/> prepended when one is given.</summary>
        /// <param name="module">Any TorchSharp module.</param>
        /// <param name="path">The file to write (atomically).</param>
        /// <param name="prefix">Prepended to every key, or null.</param>
        /// <param name="metadata">Optional <c>"__metadata__"</c> map.</param>
        public static void SaveModule(nn.Module module, string path, string? prefix = null, IReadOnlyDictionary<string, string>? metadata = null)
        {
            ArgumentNullException.ThrowIfNull(module);
            Save(path, module.state_dict(), prefix, metadata);
        }

        /// <summary>Loads a file into <c>module.state_dict()</c>; see <see cref="LoadInto"/>.</summary>
        /// <param name="module">The module to overwrite.</param>
        /// <param name="path">A safetensors file.</param>
        /// <param name="options">Prefix, strictness and dtype conversion; defaults: no prefix, strict, no conversion.</param>
        /// <exception cref="StateDictMismatchException">Keys, shapes or dtypes disagree; the module is unchanged.</exception>
        /// <exception cref="SafetensorsFormatException">The file is not valid; the module is unchanged.</exception>
        public static StateDictLoadResult LoadModule(nn.Module module, string path, StateDictLoadOptions? options = null)
        {
            ArgumentNullException.ThrowIfNull(module);
            return LoadInto(module.state_dict(), path, options);
        }

        /// <summary>
        /// Copies a file's tensors into existing tensors, matched by key (after removing <see cref="StateDictLoadOptions.Prefix"/>).
        /// Every target key must be in the file with the same shape and dtype (or any of F32/F16/BF16 into a floating target
        /// with <see cref="StateDictLoadOptions.ConvertDType"/>); in strict mode the file may hold no other key under the
        /// prefix. All problems are collected and thrown together before any target changes.
        /// </summary>
        /// <remarks>
        /// The file's tensors are all read (into CPU memory) before the first copy, so a failure while reading cannot leave
        /// the targets half overwritten: the price of all-or-nothing is one extra copy of the loaded tensors, briefly.
        /// </remarks>
        /// <param name="targets">Key → tensor to overwrite in place (e.g. a module's state dict).</param>
        /// <param name="path">A safetensors file.</param>
        /// <param name="options">Prefix, strictness and dtype conversion; defaults: no prefix, strict, no conversion.</param>
        /// <exception cref="StateDictMismatchException">Keys, shapes or dtypes disagree; no target changed.</exception>
        /// <exception cref="SafetensorsFormatException">The file is not valid; no target changed.</exception>
        public static StateDictLoadResult LoadInto(IReadOnlyDictionary<string, Tensor> targets, string path, StateDictLoadOptions? options = null)
        {
            ArgumentNullException.ThrowIfNull(targets);
            options ??= new StateDictLoadOptions();
            var prefix = options.Prefix ?? "";
            using var file = SafetensorsFile.Open(path);

            var problems = new List<StateDictProblem>();
            var plan = new List<(string Key, Tensor Target, SafetensorsTensorInfo Source)>();
            foreach (var key in targets.Keys.OrderBy(k => k, StringComparer.Ordinal))
            {
                var target = targets[key];
                var fileKey = prefix + key;
                var shape = target.shape;
                if (!file.TryGetInfo(fileKey, out var info))
                {
                    problems.Add(new StateDictProblem(StateDictProblemKind.MissingKey, key, fileKey, expectedShape: shape));
                    continue;
                }

                if (!shape.SequenceEqual(info.Shape))
                {
                    problems.Add(new StateDictProblem(StateDictProblemKind.ShapeMismatch, key, fileKey, shape, info.Shape));
                    continue;
                }

                var dtypeMatches = target.dtype == info.ScalarType || (options.ConvertDType && target.is_floating_point());
                if (!dtypeMatches)
                {
                    problems.Add(new StateDictProblem(StateDictProblemKind.DTypeMismatch, key, fileKey, shape, info.Shape,
                        DTypeName(target.dtype), info.DType.HeaderName()));
                    continue;
                }

                plan.Add((key, target, info));
            }

            var ignored = new List<string>();
            foreach (var fileKey in file.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal)))
            {
                var key = fileKey[prefix.Length..];
                if (targets.ContainsKey(key)) continue;
                if (options.Strict)
                    problems.Add(new StateDictProblem(StateDictProblemKind.UnexpectedKey, key, fileKey, actualShape: file.GetInfo(fileKey).Shape));
                else
                    ignored.Add(fileKey);
            }

            if (problems.Count > 0) throw new StateDictMismatchException(file.FilePath, problems);

            // Read every source before the first copy: a read failure (the file changed under us) must not leave the
            // target half overwritten. copy_ itself cannot fail once shapes and dtypes are known to agree.
            var sources = new List<Tensor>(plan.Count);
            try
            {
                foreach (var step in plan) sources.Add(file.Read(step.Source.Key));
                using (no_grad())
                {
                    for (var i = 0; i < plan.Count; i++) plan[i].Target.copy_(sources[i]);
                }
            }
            finally
            {
                foreach (var s in sources) s.Dispose();
            }

            return new StateDictLoadResult(plan.Select(p => p.Key).ToArray(), ignored);
        }

        private static string DTypeName(ScalarType type)
            => SafetensorsDTypes.TryFromScalarType(type, out var dtype) ? dtype.HeaderName() : type.ToString();
    }
}
