namespace MoeLayers.Interop
{
    /// <summary>
    /// A <see cref="DeepseekV3MoeFamily"/>'s configuration-class defaults for absent fields; null where the class has no
    /// usable default (the field is then required).
    /// </summary>
    internal sealed record DeepseekV3MoeDefaults(
        int Layers, int Hidden, int Width, int? Experts, int? SharedExperts, int? TopK, int Groups, int KeptGroups,
        int FirstDense, double ScalingFactor, bool Normalize, double AuxiliaryLossCoefficient);
}
