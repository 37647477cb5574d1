using System.Collections.Generic;
using System.Text.Json;
using MoeLayers.Interop;
using MoeLayers.Samples.TinyShakespeare.Model;
using static TorchSharp.torch;

namespace MoeLayers.Samples.TinyShakespeare.Export
{
    /// <summary>
    /// Writes the MoE layers of a trained model to one safetensors file, for PyTorch or any other safetensors reader:
    /// layer i's tensors under "model.layers.{i}.moe." with MoeLayers' names and layouts (router.weight [E, C],
    /// experts.w_in [E, C, h], experts.b_in [E, h], experts.w_out [E, h, C], experts.b_out [E, C], shared_experts.*,
    /// router.correction_bias), and each layer's options as JSON in the metadata ("moelayers.layer.{i}"). This sample's
    /// experts are ReLU blocks with biases (the reference model's), which none of the Hugging Face MoE families has, so
    /// the file keeps MoeLayers' layout; a layer with SwiGLU experts and no biases could go through
    /// <see cref="HfMoeBlock.Save"/> instead.
    /// </summary>
    public static class MoeLayerExport
    {
        /// <summary>The key prefix of layer <paramref name="layer"/>'s tensors.</summary>
        public static string Prefix(int layer) => $"model.layers.{layer}.moe.";

        /// <summary>Writes every MoE layer of <paramref name="model"/> to <paramref name="path"/> (atomically) and returns the tensor count.</summary>
        /// <param name="model">The trained model.</param>
        /// <param name="path">The .safetensors file.</param>
        /// <param name="dtype">Storage dtype: float32 (exact), bfloat16 or float16.</param>
        public static int Write(CharTransformer model, string path, ScalarType dtype = ScalarType.Float32)
        {
            using var scope = NewDisposeScope();
            var tensors = new Dictionary<string, Tensor>();
            var metadata = new Dictionary<string, string> { ["format"] = "pt", ["moelayers.layers"] = model.MoeLayers.Count.ToString() };
            for (var i = 0; i < model.MoeLayers.Count; i++)
            {
                var layer = model.MoeLayers[i];
                foreach (var (name, value) in layer.state_dict())
                {
                    // The correction bias is a float32 buffer, as in the published DeepSeek checkpoints.
                    tensors[Prefix(i) + name] = name.EndsWith("correction_bias") ? value.detach().to(ScalarType.Float32) : value.detach().to(dtype);
                }
                metadata[$"moelayers.layer.{i}"] = JsonSerializer.Serialize(layer.Options, new JsonSerializerOptions { Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() } });
            }
            SafetensorsWriter.Write(path, tensors, metadata);
            return tensors.Count;
        }

        /// <summary>Reads the MoE layers of a file written by <see cref="Write"/> back into <paramref name="model"/>, checked first.</summary>
        /// <param name="model">A model of the same configuration.</param>
        /// <param name="path">The .safetensors file.</param>
        public static void Read(CharTransformer model, string path)
        {
            using var file = SafetensorsFile.Open(path);
            for (var i = 0; i < model.MoeLayers.Count; i++)
            {
                using var scope = NewDisposeScope();
                var state = file.ReadAll(Prefix(i)); // keys with the prefix removed
                MoeStateDict.Load(model.MoeLayers[i], state);
            }
        }
    }
}
