using System;
using System.Collections.Generic;
using System.Linq;
using static TorchSharp.torch;

namespace MoeLayers.Interop
{
    /// <summary>
    /// The tensors of a <see cref="SafetensorsCheckpoint"/> as the block mapping sees them. Quantized weights appear under
    /// their plain names and dequantized shapes and are dequantized when read: block-scaled FP8 (an F8_E4M3 "X" with its
    /// "X_scale_inv"; DeepSeek-V3/R1, Kimi K2, GLM-4.5, MiniMax-M2 and Qwen3 FP8 releases) and MXFP4 ("X_blocks" with
    /// "X_scales"; gpt-oss), the latter transposed as transformers' convert_moe_packed_tensors does
    /// (src/transformers/integrations/mxfp4.py @ 0189b1d09a03a87ec4f59831acb93cc1832d14e7), so [E, R, G, 16] blocks
    /// become an [E, 32·G, R] tensor.
    /// </summary>
    internal sealed class CheckpointTensorSource : IHfTensorSource
    {
        private const string ScaleInverse = "_scale_inv";
        private const string Blocks = "_blocks";
        private const string Scales = "_scales";

        private readonly SafetensorsCheckpoint _checkpoint;
        private readonly (int Rows, int Columns) _fp8Block;
        private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);

        /// <summary>Views <paramref name="checkpoint"/>; FP8 weights use blocks of <paramref name="fp8Block"/> (quantization_config.weight_block_size).</summary>
        public CheckpointTensorSource(SafetensorsCheckpoint checkpoint, (int Rows, int Columns) fp8Block)
        {
            _checkpoint = checkpoint;
            _fp8Block = fp8Block;
            foreach (var key in checkpoint.Keys)
            {
                var info = checkpoint.GetInfo(key);
                if (key.EndsWith(ScaleInverse, StringComparison.Ordinal) && IsFloat8(key[..^ScaleInverse.Length])) continue;
                if (key.EndsWith(Scales, StringComparison.Ordinal) && checkpoint.Contains(key[..^Scales.Length] + Blocks)) continue;
                if (key.EndsWith(Blocks, StringComparison.Ordinal) && checkpoint.Contains(key[..^Blocks.Length] + Scales) && info.Shape.Count >= 3)
                {
                    var shape = info.Shape.ToArray();
                    var rows = shape[^3];
                    var dequantized = shape[..^3].Append(shape[^2] * Mxfp4Dequantization.ValuesPerGroup).Append(rows).ToArray();
                    _entries[key[..^Blocks.Length]] = new Entry(Format.Mxfp4, key, key[..^Blocks.Length] + Scales, dequantized);
                }
                else if (info.DType.IsFloat8() && checkpoint.Contains(key + ScaleInverse))
                {
                    _entries[key] = new Entry(Format.Fp8Block, key, key + ScaleInverse, info.Shape.ToArray());
                }
                else
                {
                    _entries[key] = new Entry(Format.Plain, key, null, info.Shape.ToArray());
                }
            }
            Keys = _entries.Keys.ToArray();
        }

        private enum Format
        {
            Plain,
            Fp8Block,
            Mxfp4,
        }

        public string Location => _checkpoint.FolderPath;

        public IReadOnlyList<string> Keys { get; }

        public bool TryGetShape(string key, out long[] shape)
        {
            var found = _entries.TryGetValue(key, out var entry);
            shape = found ? entry!.Shape : Array.Empty<long>();
            return found;
        }

        public Tensor Read(string key, ScalarType dequantizeTo)
        {
            var entry = _entries[key];
            return entry.Format switch
            {
                Format.Fp8Block => Fp8BlockDequantization.Dequantize(_checkpoint.ReadFloat8Codes(entry.Stored), ReadScale(entry.Companion!),
                    _fp8Block.Rows, _fp8Block.Columns, dequantizeTo),
                Format.Mxfp4 => Mxfp4Dequantization.Dequantize(_checkpoint.Read(entry.Stored), _checkpoint.Read(entry.Companion!), dequantizeTo)
                    .transpose(-2, -1).contiguous(),
                _ => _checkpoint.Read(entry.Stored),
            };
        }

        public ScalarType StoredDType(string key) =>
            !_entries.TryGetValue(key, out var entry) ? ScalarType.Float32
            : entry.Format == Format.Plain ? _checkpoint.GetInfo(entry.Stored).DType.ToScalarType()
            : ScalarType.BFloat16;

        public string LocationOf(string key) => _entries.TryGetValue(key, out var entry) ? _checkpoint.GetInfo(entry.Stored).FilePath : Location;

        private bool IsFloat8(string key) => _checkpoint.TryGetInfo(key, out var info) && info.DType.IsFloat8();

        private Tensor ReadScale(string key) => _checkpoint.Read(key);

        /// <summary>One tensor as the mapping sees it: how it is stored, under which key, with which companion tensor.</summary>
        private sealed record Entry(Format Format, string Stored, string? Companion, long[] Shape);
    }
}
