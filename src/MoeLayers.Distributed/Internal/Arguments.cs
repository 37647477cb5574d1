using System;
using static TorchSharp.torch;

namespace MoeLayers.Distributed
{
    /// <summary>Argument checks shared by the communicators: each returns null when valid, else the message.</summary>
    internal static class Arguments
    {
        /// <summary>Checks an all-to-all's rows and counts.</summary>
        public static string? AllToAll(Tensor? send, ReadOnlySpan<long> sendCounts, int worldSize)
        {
            if (send is null) return "AllToAll: send is null.";
            if (send.IsInvalid) return "AllToAll: send has been disposed.";
            if (send.Dimensions == 0) return "AllToAll: send must have at least one dimension (rows); got a scalar.";
            if (sendCounts.Length != worldSize)
                return $"AllToAll: sendCounts must have one entry per rank (world size {worldSize}); got {sendCounts.Length}.";
            long sum = 0;
            for (var i = 0; i < sendCounts.Length; i++)
            {
                if (sendCounts[i] < 0) return $"AllToAll: sendCounts[{i}] must be ≥ 0; got {sendCounts[i]}.";
                sum += sendCounts[i];
            }
            if (sum != send.shape[0]) return $"AllToAll: sendCounts sum to {sum} but send has {send.shape[0]} rows (shape {TensorPayload.ShapeText(send.shape, rows: false)}).";
            return null;
        }

        /// <summary>Checks an all-reduce's tensor, op and dtype.</summary>
        public static string? AllReduce(Tensor? tensor, ReduceOp op)
        {
            if (tensor is null) return "AllReduce: tensor is null.";
            if (tensor.IsInvalid) return "AllReduce: tensor has been disposed.";
            if (op is not (ReduceOp.Sum or ReduceOp.Max or ReduceOp.Min)) return $"AllReduce: unknown ReduceOp {(int)op}.";
            if (!IsReducible(tensor.dtype))
                return $"AllReduce: dtype {TensorPayload.DtypeName(tensor.dtype)} is not supported (float32, float64, float16, bfloat16, int64, int32, int16, int8, uint8 are).";
            return null;
        }

        /// <summary>Whether <see cref="ICommunicator.AllReduce"/> supports the dtype.</summary>
        public static bool IsReducible(ScalarType dtype) => dtype is ScalarType.Float32 or ScalarType.Float64 or ScalarType.Float16
            or ScalarType.BFloat16 or ScalarType.Int64 or ScalarType.Int32 or ScalarType.Int16 or ScalarType.Int8 or ScalarType.Byte;
    }
}
