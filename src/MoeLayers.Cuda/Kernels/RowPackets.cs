using System.Runtime.InteropServices;

namespace MoeLayers.Cuda
{
    /// <summary>Four float32 values, 16 bytes: ILGPU's PTX backend loads and stores it with one ld/st.global.v4.f32.</summary>
    [StructLayout(LayoutKind.Sequential, Size = 16)]
    internal struct Float4
    {
        public float X;
        public float Y;
        public float Z;
        public float W;
    }

    /// <summary>
    /// Eight 16-bit values (bfloat16 or float16), 16 bytes, as four 32-bit words (one ld/st.global.v4.b32): element 2i is the
    /// low half of word i, element 2i + 1 the high half (little-endian, as the tensor stores them).
    /// </summary>
    [StructLayout(LayoutKind.Sequential, Size = 16)]
    internal struct Half8
    {
        public uint A;
        public uint B;
        public uint C;
        public uint D;
    }

    /// <summary>Eight float32 sums, the accumulator of a <see cref="Half8"/> packet.</summary>
    internal struct Float8
    {
        public float V0;
        public float V1;
        public float V2;
        public float V3;
        public float V4;
        public float V5;
        public float V6;
        public float V7;
    }

    /// <summary>
    /// How a row kernel does its arithmetic on one packet of a row: a single element (any row width and alignment) or 16
    /// bytes of elements (rows whose byte width and addresses are multiples of 16). Every element is widened to float32,
    /// all math is float32, and each output element is rounded once; a packet of n elements gives exactly the results of
    /// n single elements (per-element operations in the same order), except <see cref="Dot"/>, whose sum order differs.
    /// </summary>
    /// <typeparam name="TPacket">What one load or store moves.</typeparam>
    /// <typeparam name="TSum">The float32 accumulator of one packet.</typeparam>
    internal interface IRowCodec<TPacket, TSum>
        where TPacket : unmanaged
        where TSum : unmanaged
    {
        /// <summary>sum + weight · packet, per element.</summary>
        TSum MulAdd(TSum sum, float weight, TPacket packet);

        /// <summary>The sums rounded to the storage format.</summary>
        TPacket Round(TSum sum);

        /// <summary>weight · packet, rounded, per element.</summary>
        TPacket Scale(float weight, TPacket packet);

        /// <summary>Σᵢ a[i] · b[i] in float32, i ascending.</summary>
        float Dot(TPacket a, TPacket b);
    }

    /// <summary>One element per packet, stored as <typeparamref name="TElement"/> through <typeparamref name="TElementCodec"/>.</summary>
    internal readonly struct ScalarRowCodec<TElement, TElementCodec> : IRowCodec<TElement, float>
        where TElement : unmanaged
        where TElementCodec : struct, IElementCodec<TElement>
    {
        public float MulAdd(float sum, float weight, TElement packet) => sum + weight * default(TElementCodec).Load(packet);

        public TElement Round(float sum) => default(TElementCodec).Store(sum);

        public TElement Scale(float weight, TElement packet) => default(TElementCodec).Store(weight * default(TElementCodec).Load(packet));

        public float Dot(TElement a, TElement b) => default(TElementCodec).Load(a) * default(TElementCodec).Load(b);
    }

    /// <summary>Four float32 elements per packet.</summary>
    internal readonly struct Float4RowCodec : IRowCodec<Float4, Float4>
    {
        public Float4 MulAdd(Float4 sum, float weight, Float4 packet)
        {
            sum.X += weight * packet.X;
            sum.Y += weight * packet.Y;
            sum.Z += weight * packet.Z;
            sum.W += weight * packet.W;
            return sum;
        }

        public Float4 Round(Float4 sum) => sum;

        public Float4 Scale(float weight, Float4 packet)
        {
            packet.X *= weight;
            packet.Y *= weight;
            packet.Z *= weight;
            packet.W *= weight;
            return packet;
        }

        public float Dot(Float4 a, Float4 b)
        {
            var sum = a.X * b.X;
            sum += a.Y * b.Y;
            sum += a.Z * b.Z;
            sum += a.W * b.W;
            return sum;
        }
    }

    /// <summary>Eight 16-bit elements per packet, each converted by <typeparamref name="TElementCodec"/> (bfloat16 or float16).</summary>
    internal readonly struct Half8RowCodec<TElementCodec> : IRowCodec<Half8, Float8>
        where TElementCodec : struct, IElementCodec<ushort>
    {
        public Float8 MulAdd(Float8 sum, float weight, Half8 packet)
        {
            sum.V0 += weight * Low(packet.A);
            sum.V1 += weight * High(packet.A);
            sum.V2 += weight * Low(packet.B);
            sum.V3 += weight * High(packet.B);
            sum.V4 += weight * Low(packet.C);
            sum.V5 += weight * High(packet.C);
            sum.V6 += weight * Low(packet.D);
            sum.V7 += weight * High(packet.D);
            return sum;
        }

        public Half8 Round(Float8 sum)
        {
            Half8 packet;
            packet.A = Pack(sum.V0, sum.V1);
            packet.B = Pack(sum.V2, sum.V3);
            packet.C = Pack(sum.V4, sum.V5);
            packet.D = Pack(sum.V6, sum.V7);
            return packet;
        }

        public Half8 Scale(float weight, Half8 packet)
        {
            packet.A = Pack(weight * Low(packet.A), weight * High(packet.A));
            packet.B = Pack(weight * Low(packet.B), weight * High(packet.B));
            packet.C = Pack(weight * Low(packet.C), weight * High(packet.C));
            packet.D = Pack(weight * Low(packet.D), weight * High(packet.D));
            return packet;
        }

        public float Dot(Half8 a, Half8 b)
        {
            var sum = Low(a.A) * Low(b.A);
            sum += High(a.A) * High(b.A);
            sum += Low(a.B) * Low(b.B);
            sum += High(a.B) * High(b.B);
            sum += Low(a.C) * Low(b.C);
            sum += High(a.C) * High(b.C);
            sum += Low(a.D) * Low(b.D);
            sum += High(a.D) * High(b.D);
            return sum;
        }

        private static float Low(uint word) => default(TElementCodec).Load((ushort)(word & 0xFFFFu));

        private static float High(uint word) => default(TElementCodec).Load((ushort)(word >> 16));

        private static uint Pack(float low, float high) =>
            default(TElementCodec).Store(low) | ((uint)default(TElementCodec).Store(high) << 16);
    }
}
