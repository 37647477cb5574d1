using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace MoeLayers.Samples.MoeModel
{
    /// <summary>
    /// adapter_config.json: the LoraConfig fields PEFT reads (peft src/peft/tuners/lora/config.py @
    /// 5d602fdbff04c33c1c4de55cda9d4ae1d7cb7e40), written as PeftConfigMixin.save_pretrained writes them
    /// (src/peft/config.py: <c>json.dumps(output_dict, indent=2, sort_keys=True)</c>), and read back with every field that
    /// would change the computation checked.
    /// </summary>
    internal static class PeftAdapterConfig
    {
        /// <summary>The rank_pattern / alpha_pattern key of gpt_oss's fused gate/up adapter (matched by PEFT's get_pattern_key as a suffix of "model.layers.{i}.mlp.experts.gate_up_proj").</summary>
        public const string FusedGateUpPattern = "experts.gate_up_proj";

        /// <summary>PEFT's target_modules for an adapter that adapts no module (modules_to_save only).</summary>
        public const string DummyTargetModules = "dummy-target-modules";

        /// <summary>The JSON text.</summary>
        public static byte[] Write(AdapterSettings settings, string? baseModelNameOrPath, IReadOnlyCollection<string> targetModules, IReadOnlyCollection<string>? excludeModules,
            IReadOnlyCollection<string>? modulesToSave, IReadOnlyCollection<string>? targetParameters)
        {
            using var buffer = new MemoryStream();
            using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, Indented = true }))
            {
                var fields = new SortedDictionary<string, Action>(StringComparer.Ordinal)
                {
                    ["alpha_pattern"] = () => Pattern(json, "alpha_pattern", targetParameters is null ? null : FusedAlpha(settings)),
                    ["auto_mapping"] = () => json.WriteNull("auto_mapping"),
                    ["base_model_name_or_path"] = () =>
                    {
                        if (baseModelNameOrPath is null) json.WriteNull("base_model_name_or_path");
                        else json.WriteString("base_model_name_or_path", baseModelNameOrPath);
                    },
                    ["bias"] = () => json.WriteString("bias", "none"),
                    ["exclude_modules"] = () => Strings(json, "exclude_modules", excludeModules),
                    ["fan_in_fan_out"] = () => json.WriteBoolean("fan_in_fan_out", false),
                    ["inference_mode"] = () => json.WriteBoolean("inference_mode", true),
                    ["init_lora_weights"] = () => json.WriteBoolean("init_lora_weights", true),
                    ["layers_pattern"] = () => json.WriteNull("layers_pattern"),
                    ["layers_to_transform"] = () => json.WriteNull("layers_to_transform"),
                    ["lora_alpha"] = () => Number(json, "lora_alpha", settings.Alpha),
                    ["lora_bias"] = () => json.WriteBoolean("lora_bias", false),
                    ["lora_dropout"] = () => json.WriteNumber("lora_dropout", 0.0),
                    ["modules_to_save"] = () => Strings(json, "modules_to_save", modulesToSave),
                    ["peft_type"] = () => json.WriteString("peft_type", "LORA"),
                    ["r"] = () => json.WriteNumber("r", settings.Rank),
                    ["rank_pattern"] = () => Pattern(json, "rank_pattern", targetParameters is null ? null : 2.0 * settings.Rank),
                    ["revision"] = () => json.WriteNull("revision"),
                    ["target_modules"] = () =>
                    {
                        // Routers alone adapt no module: PEFT's placeholder for an adapter that matches none
                        // (src/peft/utils/constants.py DUMMY_TARGET_MODULES, honoured by BaseTuner.inject_adapter).
                        if (targetModules.Count == 0 && targetParameters is null) json.WriteString("target_modules", DummyTargetModules);
                        else Strings(json, "target_modules", targetModules);
                    },
                    ["target_parameters"] = () => Strings(json, "target_parameters", targetParameters),
                    ["task_type"] = () => json.WriteString("task_type", "CAUSAL_LM"),
                    ["use_dora"] = () => json.WriteBoolean("use_dora", false),
                    ["use_rslora"] = () => json.WriteBoolean("use_rslora", settings.RankStabilized),
                };
                json.WriteStartObject();
                foreach (var write in fields.Values) write();
                json.WriteEndObject();
            }
            return buffer.ToArray();
        }

        /// <summary>
        /// α of the fused rank-2r gate/up adapter so that its scale is the settings' s: α·2r/r = 2α for α/r, α·√2 for
        /// α/√r (rsLoRA).
        /// </summary>
        public static double FusedAlpha(AdapterSettings settings) => settings.RankStabilized ? settings.Alpha * Math.Sqrt(2) : settings.Alpha * 2;

        /// <summary>
        /// Reads rank, α and rsLoRA, and the modules_to_save list, after refusing every field whose value this sample cannot
        /// represent exactly (naming it). <paramref name="fused"/>: whether the family's experts are fused parameters, whose
        /// gate/up adapter has rank 2r (rank_pattern / alpha_pattern with <see cref="FusedGateUpPattern"/>).
        /// </summary>
        public static (int Rank, double Alpha, bool RankStabilized, IReadOnlyList<string> ModulesToSave) Read(string path, bool fused)
        {
            JsonDocument document;
            try
            {
                document = JsonDocument.Parse(File.ReadAllBytes(path));
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{path}: not valid JSON ({e.Message}).", e);
            }
            using (document)
            {
                var root = document.RootElement;
                if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{path}: expected a JSON object.");
                InvalidDataException Bad(string field, string expected, JsonElement? actual = null) =>
                    new($"{path}: field '{field}' {(actual is { } a ? $"= {a.GetRawText()}" : "is missing")}; this sample reads only {expected}.");
                JsonElement? Field(string name) => root.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

                if (Field("peft_type") is not { ValueKind: JsonValueKind.String } type || type.GetString() != "LORA") throw Bad("peft_type", "\"LORA\"", Field("peft_type"));
                if (Field("r") is not { } r || !r.TryGetInt32(out var rank) || rank < 1) throw Bad("r", "an integer ≥ 1", Field("r"));
                if (Field("lora_alpha") is not { ValueKind: JsonValueKind.Number } alphaField || alphaField.GetDouble() is var alpha && !(alpha > 0 && double.IsFinite(alpha)))
                    throw Bad("lora_alpha", "a finite number > 0", Field("lora_alpha"));
                var rankStabilized = Field("use_rslora") is { } rs && (rs.ValueKind is JsonValueKind.True or JsonValueKind.False ? rs.GetBoolean() : throw Bad("use_rslora", "true or false", rs));
                if (Field("bias") is { } bias && bias.GetRawText() != "\"none\"") throw Bad("bias", "\"none\" (LoRA without trained biases)", bias);
                foreach (var flag in new[] { "fan_in_fan_out", "use_dora", "lora_bias", "use_qalora" })
                    if (Field(flag) is { } value && value.ValueKind != JsonValueKind.False) throw Bad(flag, "false", value);
                foreach (var absent in new[] { "layers_to_transform", "layer_replication", "trainable_token_indices", "megatron_config", "target_modules_to_tie" })
                    if (Field(absent) is { } value && !(value.ValueKind == JsonValueKind.Array && value.GetArrayLength() == 0)) throw Bad(absent, "null", value);

                var settings = new AdapterSettings(rank, alpha, rankStabilized, AdapterTargets.Attention);
                CheckPattern(Field("rank_pattern"), "rank_pattern", fused ? 2.0 * rank : null, Bad);
                CheckPattern(Field("alpha_pattern"), "alpha_pattern", fused ? FusedAlpha(settings) : null, Bad);
                IReadOnlyList<string> modulesToSave = Field("modules_to_save") is { ValueKind: JsonValueKind.Array } list
                    ? list.EnumerateArray().Select(v => v.GetString() ?? "").ToList() : Array.Empty<string>();
                return (rank, alpha, rankStabilized, modulesToSave);
            }
        }

        /// <summary>A pattern must be empty, or (fused) hold exactly the gate/up entry with <paramref name="expected"/>.</summary>
        private static void CheckPattern(JsonElement? field, string name, double? expected, Func<string, string, JsonElement?, InvalidDataException> bad)
        {
            var what = expected is { } e ? $"{{\"{FusedGateUpPattern}\": {e.ToString(CultureInfo.InvariantCulture)}}} or nothing (per-module ranks and alphas other than the fused gate/up adapter's are not supported)"
                : "{} (per-module ranks and alphas are not supported)";
            if (field is not { } value) return;
            if (value.ValueKind != JsonValueKind.Object) throw bad(name, what, value);
            var entries = value.EnumerateObject().ToList();
            if (entries.Count == 0) return;
            if (expected is null || entries.Count != 1 || entries[0].Name != FusedGateUpPattern || entries[0].Value.ValueKind != JsonValueKind.Number
                || Math.Abs(entries[0].Value.GetDouble() - expected.Value) > 1e-9 * Math.Abs(expected.Value))
                throw bad(name, what, value);
        }

        private static void Pattern(Utf8JsonWriter json, string name, double? fused)
        {
            json.WriteStartObject(name);
            if (fused is { } value) Number(json, FusedGateUpPattern, value);
            json.WriteEndObject();
        }

        /// <summary>Integers as integers (as Python writes an int), other values as doubles.</summary>
        private static void Number(Utf8JsonWriter json, string name, double value)
        {
            if (value == Math.Floor(value) && Math.Abs(value) < 1e15) json.WriteNumber(name, (long)value);
            else json.WriteNumber(name, value);
        }

        private static void Strings(Utf8JsonWriter json, string name, IReadOnlyCollection<string>? values)
        {
            if (values is null)
            {
                json.WriteNull(name);
                return;
            }
            json.WriteStartArray(name);
            foreach (var value in values) json.WriteStringValue(value);
            json.WriteEndArray();
        }
    }
}
