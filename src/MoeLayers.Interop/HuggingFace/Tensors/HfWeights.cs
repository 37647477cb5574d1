using System;
using System.Collections.Generic;
using System.IO;
using static TorchSharp.torch;

namespace MoeLayers.Interop
{
    /// <summary>The weights of a Hugging Face model folder: where they are, how they are opened and written.</summary>
    internal sealed record HfWeights(string Folder, IHfTensorSource Tensors, IDisposable Owner)
    {
        /// <summary>Opens the weights of a folder, an index file or a .safetensors file.</summary>
        public static HfWeights Open(string path)
        {
            if (Directory.Exists(path))
            {
                var single = Path.Combine(path, "model.safetensors");
                if (!File.Exists(single))
                    throw new FileNotFoundException($"{path} holds neither model.safetensors nor model.safetensors.index.json; expected a Hugging Face model folder.", single);
                path = single;
            }
            else if (!File.Exists(path))
            {
                throw new FileNotFoundException($"Nothing at {path}; expected a model folder, its model.safetensors.index.json or a .safetensors file.", path);
            }
            var file = SafetensorsFile.Open(path);
            return new HfWeights(Path.GetDirectoryName(Path.GetFullPath(path))!, new SafetensorsFileSource(file), file);
        }

        /// <summary>Writes tensors and small text files as a model folder, atomically.</summary>
        public static void Write(string folder, IEnumerable<KeyValuePair<string, Func<Tensor>>> tensors, long maxShardBytes, IReadOnlyDictionary<string, string> files)
        {
            Directory.CreateDirectory(folder);
            var all = new Dictionary<string, Tensor>();
            foreach (var (key, read) in tensors) all[key] = read();
            SafetensorsWriter.Write(Path.Combine(folder, "model.safetensors"), all, new Dictionary<string, string> { ["format"] = "pt" });
            foreach (var (name, text) in files) File.WriteAllText(Path.Combine(folder, name), text);
        }
    }
}
