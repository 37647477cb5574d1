using System;
using System.Linq;
using static TorchSharp.torch;

namespace MoeLayers.Interop
{
    /// <summary>
    /// Dequantizes block-scaled FP8 weights, the format of DeepSeek-V3/R1, Kimi K2, GLM-4.5-FP8, MiniMax-M2 and the
    /// Qwen3 FP8 checkpoints: a weight <c>W</c> stored as F8_E4M3 [..., rows, cols] beside <c>W_scale_inv</c> (key
    /// "<c>….weight_scale_inv</c>", float32 or bfloat16) [..., ceil(rows/bᵣ), ceil(cols/b꜀)], with the block size
    /// [bᵣ, b꜀] from config.json's <c>quantization_config.weight_block_size</c> (usually [128, 128]). Element (i, j) is
    /// <c>e4m3(W[i, j]) · scale_inv[i / bᵣ, j / b꜀]</c>; the last block of a row or column may be partial.
    /// </summary>
    /// <remarks>
    /// Transcribed from DeepSeek-V3 <c>inference/kernel.py</c> (<c>weight_dequant_kernel</c>: the product in float32,
    /// edge blocks masked, scale <c>s[pid_m · cdiv(N, block) + pid_n]</c>) at github.com/deepseek-ai/DeepSeek-V3 commit
    /// 9b4e9788e4a3a731f7567338ed15d3ec549ce03b, and transformers <c>src/transformers/integrations/finegrained_fp8.py</c>
    /// (<c>Fp8Dequantize</c>: leading dimensions such as experts, scales cast to float32, block size from
    /// <c>quantization_config.weight_block_size</c>) at commit 0095b97653938e60bedf484ded6499f486611582, which requires
    /// whole blocks; partial edge blocks follow DeepSeek's kernel. The product is computed in float32 (exact decode, one
    /// float32 rounding, as both references) and then rounded to the requested dtype.
    /// </remarks>
    public static class Fp8BlockDequantization
    {
        /// <summary>The block size Hugging Face FP8 checkpoints use when config.json gives none: 128 × 128.</summary>
        public const int DefaultBlockSize = 128;

        /// <summary>
        /// Dequantizes <paramref name="weight"/> (e4m3fn codes) with its per-block inverse scales into a new tensor of
        /// <paramref name="weight"/>'s shape, on its device, in rows of blocks so that the memory beyond the result stays
        /// a few chunks of at most about 4 M elements.
        /// </summary>
        /// <param name="weight">uint8 codes [..., rows, cols], as <see cref="SafetensorsFile.ReadFloat8Codes"/> reads an F8_E4M3 weight.</param>
        /// <param name="scaleInv">
        /// The multipliers <c>weight_scale_inv</c> [..., ceil(rows/<paramref name="blockRows"/>), ceil(cols/<paramref name="blockColumns"/>)],
        /// same leading dimensions and device; Float32, BFloat16 or Float16.
        /// </param>
        /// <param name="blockRows">Rows per block (the first entry of <c>weight_block_size</c>).</param>
        /// <param name="blockColumns">Columns per block (the second entry of <c>weight_block_size</c>).</param>
        /// <param name="dtype">The result's dtype: Float32, BFloat16 or Float16.</param>
        /// <exception cref="ArgumentException">A dtype, shape or device does not match what is described above; the message names the argument and the expected shape.</exception>
        /// <exception cref="ArgumentOutOfRangeException">A block size is below 1.</exception>
        public static Tensor Dequantize(Tensor weight, Tensor scaleInv, int blockRows = DefaultBlockSize, int blockColumns = DefaultBlockSize,
            ScalarType dtype = ScalarType.Float32)
        {
            Float8.CheckCodes(weight, nameof(weight), "F8_E4M3 weight");
            ArgumentNullException.ThrowIfNull(scaleInv);
            ArgumentOutOfRangeException.ThrowIfLessThan(blockRows, 1);
            ArgumentOutOfRangeException.ThrowIfLessThan(blockColumns, 1);
            Float8.CheckOutputDType(dtype, nameof(dtype));
            if (scaleInv.IsInvalid)
                throw new ArgumentException("'scaleInv' was disposed.", nameof(scaleInv));
            var shape = weight.shape;
            if (shape.Length < 2)
                throw new ArgumentException($"'weight' must have at least 2 dimensions [..., rows, cols]; it is {Float8.FormatShape(shape)}.", nameof(weight));
            var rows = shape[^2];
            var columns = shape[^1];
            var blocksDown = (rows + blockRows - 1) / blockRows;
            var blocksAcross = (columns + blockColumns - 1) / blockColumns;
            var expectedScale = shape[..^2].Append(blocksDown).Append(blocksAcross).ToArray();
            if (!scaleInv.shape.SequenceEqual(expectedScale))
                throw new ArgumentException(
                    $"'scaleInv' must be {Float8.FormatShape(expectedScale)} for weight {Float8.FormatShape(shape)} with {blockRows}×{blockColumns} blocks "
                    + $"(ceil(rows/{blockRows}), ceil(cols/{blockColumns})); it is {Float8.FormatShape(scaleInv.shape)}. Check quantization_config.weight_block_size.",
                    nameof(scaleInv));
            if (scaleInv.dtype is not (ScalarType.Float32 or ScalarType.BFloat16 or ScalarType.Float16))
                throw new ArgumentException($"'scaleInv' must be Float32, BFloat16 or Float16; it is {scaleInv.dtype}.", nameof(scaleInv));
            if (!Float8.SameDevice(scaleInv, weight))
                throw new ArgumentException($"'scaleInv' is on {scaleInv.device} but 'weight' is on {weight.device}; put both on one device.", nameof(scaleInv));

            TorchSharpNative.EnsureAvailable();
            using var scope = NewDisposeScope();
            var matrices = shape[..^2].Aggregate(1L, (a, b) => a * b);
            var output = empty(shape, dtype, weight.device);
            if (output.numel() == 0) return output.MoveToOuterDisposeScope();

            var table = Float8.Table(Float8.E4M3Value, weight.device);
            var codes = weight.reshape(matrices, rows, columns);
            var scales = scaleInv.reshape(matrices, blocksDown, blocksAcross);
            var result = output.view(matrices, rows, columns);
            // Whole rows of blocks per step, about Float8.ChunkElements elements.
            var rowsPerStep = Math.Max(1, Float8.ChunkElements / columns / blockRows) * blockRows;
            for (long m = 0; m < matrices; m++)
            {
                for (long first = 0; first < rows; first += rowsPerStep)
                {
                    using var step = NewDisposeScope();
                    var count = Math.Min(rowsPerStep, rows - first);
                    var indices = codes[m].narrow(0, first, count).reshape(-1).to(ScalarType.Int32);
                    var values = table.index_select(0, indices).view(count, columns);
                    var blockScales = scales[m].narrow(0, first / blockRows, (count + blockRows - 1) / blockRows).to(ScalarType.Float32);
                    var perElement = blockScales
                        .repeat_interleave(blockRows, dim: 0).narrow(0, 0, count)
                        .repeat_interleave(blockColumns, dim: 1).narrow(1, 0, columns);
                    result[m].narrow(0, first, count).copy_(values.mul_(perElement));
                }
            }

            return output.MoveToOuterDisposeScope();
        }
    }
}
