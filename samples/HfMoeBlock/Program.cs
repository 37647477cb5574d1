// Loads the sparse-MoE block of a Hugging Face checkpoint into a TorchSharp model and runs it; exports a MoeLayers
// layer in a published layout. `dotnet run --project samples/HfMoeBlock -- --help` lists the commands.
using System;
using System.IO;
using System.Linq;
using MoeLayers;
using MoeLayers.Interop;
using static TorchSharp.torch;

var command = args.Length > 0 ? args[0] : "run";
string Option(string name, string fallback)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
}
var data = Path.Combine(AppContext.BaseDirectory, "data", "hf");

switch (command)
{
    case "run":
        {
            // Defaults: the bundled tiny DeepSeek-V3 block (sigmoid routing, groups, correction bias, one shared expert).
            var family = Option("--family", "deepseek_v3");
            var config = HfMoeConfig.Read(Option("--config", Path.Combine(data, family, "config.json")));
            var weights = Option("--weights", Path.Combine(data, family, "weights.safetensors"));
            var prefix = Option("--layer-prefix", family == "deepseek_v3" ? "model.layers.3." : "model.layers.0.");
            var moe = HfMoeBlock.Load(weights, config, prefix);
            // The block inside a TorchSharp model, as the feed-forward of a pre-norm residual layer would hold it.
            var model = nn.Sequential(("norm", nn.LayerNorm(config.HiddenSize)), ("moe", moe));
            model.eval();
            Console.WriteLine($"{config.Architecture} block '{prefix}' of {weights}: E = {config.NumExperts}, k = {config.TopK}, width {config.ExpertWidth}, " +
                              $"shared {config.SharedExperts}, groups {config.ExpertGroups}/{config.TopKGroups}, {config.ScoreFunction} scores");
            var io = Option("--io", Path.Combine(data, family, "io.safetensors"));
            using var noGrad = no_grad();
            if (File.Exists(io))
            {
                using var file = SafetensorsFile.Open(io);
                var output = moe.Run(file.Read("input"));
                var difference = (output.Output - file.Read("output")).abs().max().item<float>();
                Console.WriteLine($"against the published forward: max |difference| = {difference:E2} over {output.Output.numel()} values");
                Console.WriteLine($"experts of token 0: [{string.Join(", ", output.Routing.ExpertIndices[0].data<long>().ToArray())}]");
                Console.WriteLine(output.Statistics);
                return difference < 1e-5f ? 0 : 1;
            }
            var y = model.call(randn(4, config.HiddenSize));
            Console.WriteLine($"output [{string.Join(", ", y.shape)}], mean {y.mean().item<float>():F4}; {moe.Statistics}");
            return 0;
        }
    case "folder":
        {
            // A whole model folder: config.json + model.safetensors.index.json + shards. Defaults: the bundled tiny
            // DeepSeek-V3 folder (layer 0 dense by first_k_dense_replace, layer 1's experts straddling two shards).
            var path = Option("--path", Path.Combine(AppContext.BaseDirectory, "data", "hf-models", "deepseek_v3"));
            using var checkpoint = HfCheckpoint.Open(path);
            var config = checkpoint.Config;
            Console.WriteLine($"{config.ModelType} at {checkpoint.Folder}: {config.NumLayers} layers, {checkpoint.TensorKeys.Count} tensors");
            for (var i = 0; i < config.NumLayers; i++)
                Console.WriteLine($"  layer {i}: {(config.DenseReason(i) is { } why ? "dense (" + why + ")" : $"MoE, E = {config.NumExperts}, k = {config.TopK}")}");

            // Every MoE layer of a model loaded by its module path, as a model holding them would: model.layers.{i}.mlp.
            var layers = nn.ModuleList(Enumerable.Range(0, config.NumLayers)
                .Select(i => (nn.Module)(config.IsMoeLayer(i) ? new MoeLayer(config.ToOptions()) : nn.Identity())).ToArray());
            var model = new Decoder(layers);
            var loaded = checkpoint.LoadInto(model, "layers.", new HfLoadOptions { CheckFinite = true });
            Console.WriteLine($"loaded {loaded.Count} MoE layers by module path: {string.Join(", ", loaded.Keys)}");

            var reference = Path.Combine(checkpoint.Folder, "reference.safetensors");
            var worst = 0f;
            if (File.Exists(reference))
            {
                using var file = SafetensorsFile.Open(reference);
                using var noGrad = no_grad();
                model.eval();
                foreach (var (module, layer) in loaded)
                {
                    var moe = (MoeLayer)layers[layer];
                    var result = moe.Run(file.Read($"layers.{layer}.input"));
                    var difference = (result.Output - file.Read($"layers.{layer}.output")).abs().max().item<float>();
                    worst = Math.Max(worst, difference);
                    Console.WriteLine($"  {module}: max |difference| against the published forward = {difference:E2}");
                }
            }

            var exported = Option("--out", "hf-folder-export");
            var moeLayers = loaded.ToDictionary(kv => kv.Value, kv => (MoeLayer)layers[kv.Value]);
            HfCheckpoint.Save(exported, config, moeLayers, new HfSaveOptions { DType = ScalarType.BFloat16, MaxShardBytes = 16 * 1024 });
            using var back = HfCheckpoint.Open(exported);
            var shards = Directory.GetFiles(exported, "*.safetensors").Length;
            Console.WriteLine($"saved to {Path.GetFullPath(exported)}: {shards} shard(s), {back.TensorKeys.Count} tensors, MoE layers {string.Join(", ", back.MoeLayerIndices)}");
            return worst < 1e-5f ? 0 : 1;
        }
    case "export":
        {
            // A Qwen3-MoE-shaped layer trained for a few steps, written in the published per-expert layout with its
            // config.json, then read back: a file Hugging Face's Qwen3MoeSparseMoeBlock loads as is.
            var output = Option("--out", "hf-export");
            var config = HfMoeConfig.Read(Path.Combine(data, "qwen3_moe", "config.json"));
            manual_seed(1);
            var layer = new MoeLayer(config.ToOptions());
            var optimizer = optim.AdamW(layer.parameters(), lr: 1e-2);
            var x = randn(64, config.HiddenSize);
            for (var step = 0; step < 20; step++)
            {
                using var scope = NewDisposeScope();
                optimizer.zero_grad();
                (nn.functional.mse_loss(layer.call(x), x.flip(1)) + MoeAuxiliaryLoss.Collect(layer)).backward();
                optimizer.step();
            }
            Directory.CreateDirectory(output);
            var weights = Path.Combine(output, "model.safetensors");
            HfMoeBlock.Save(layer, weights, config, "model.layers.0.", HfExpertLayout.PerExpert, ScalarType.BFloat16);
            File.Copy(Path.Combine(data, "qwen3_moe", "config.json"), Path.Combine(output, "config.json"), overwrite: true);
            var back = HfMoeBlock.Load(weights, config);
            using var file = SafetensorsFile.Open(weights);
            Console.WriteLine($"wrote {weights}: {file.Keys.Count} tensors ({string.Join(", ", file.Keys.Take(3))}, ...), bf16");
            var same = layer.state_dict().All(kv => kv.Value.to(ScalarType.BFloat16).to(ScalarType.Float32).allclose(back.state_dict()[kv.Key], 0, 0));
            Console.WriteLine($"read back: {(same ? "every tensor equals the layer's, rounded to bf16" : "MISMATCH")}");
            return same ? 0 : 1;
        }
    default:
        Console.WriteLine("""
            usage: HfMoeBlock folder [--path MODEL_FOLDER] [--out hf-folder-export]
                   HfMoeBlock run    [--family mixtral|mixtral_fused|qwen2_moe|qwen3_moe|olmoe|deepseek_v3]
                                     [--config config.json --weights model.safetensors --layer-prefix model.layers.N. --io io.safetensors]
                   HfMoeBlock export [--out folder]
            folder: opens a Hugging Face model folder (sharded or not), prints which layers are MoE and why the others are
                    dense, loads every MoE layer of a model by its module path, checks them against the folder's
                    reference.safetensors when it has one, and saves them back as a sharded folder.
            run:    loads one MoE block of a Hugging Face checkpoint into a TorchSharp model and runs it (with --io, against
                    the published forward's outputs). Defaults to the bundled tiny blocks.
            export: trains a Qwen3-MoE-shaped MoeLayer briefly and writes it in the published layout with its config.json.
            """);
        return command is "--help" or "-h" or "help" ? 0 : 2;
}

/// <summary>A stand-in for a decoder that holds its layers' feed-forward blocks at "layers.{i}".</summary>
internal sealed class Decoder : nn.Module
{
    private readonly TorchSharp.Modules.ModuleList<nn.Module> layers;

    public Decoder(TorchSharp.Modules.ModuleList<nn.Module> layers) : base("decoder")
    {
        this.layers = layers;
        RegisterComponents();
    }
}
