using System;
using System.IO;

namespace MoeLayers.Interop.Tests.Support
{
    /// <summary>The committed Hugging Face fixtures, copied next to the test assembly.</summary>
    internal static class Fixtures
    {
        public static readonly string[] Families = { "mixtral", "mixtral_fused", "qwen2_moe", "qwen3_moe", "olmoe", "deepseek_v3" };

        public static string Folder(string family) => Path.Combine(AppContext.BaseDirectory, "fixtures", "hf", family);

        public static string Weights(string family) => Path.Combine(Folder(family), "weights.safetensors");

        public static string Io(string family) => Path.Combine(Folder(family), "io.safetensors");

        public static string Config(string family) => Path.Combine(Folder(family), "config.json");

        /// <summary>The block's key prefix in each fixture, as a caller of the layout mapping would pass it.</summary>
        public static string Prefix(string family) => family switch
        {
            "mixtral" => "model.layers.0.block_sparse_moe.",
            "deepseek_v3" => "model.layers.3.mlp.",
            _ => "model.layers.0.mlp.",
        };
    }
}
