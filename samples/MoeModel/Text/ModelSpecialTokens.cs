using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;

namespace MoeLayers.Samples.MoeModel.Text;

/// <summary>
/// The bos / eos / pad tokens of a model folder, read from config.json, generation_config.json and
/// tokenizer_config.json (falling back to special_tokens_map.json for the token strings).
/// </summary>
/// <param name="EosTokenIds">Every id that ends generation: generation_config.json's eos_token_id (int or list), then
/// config.json's, then the id of tokenizer_config.json's eos_token, without repeats.</param>
/// <param name="BosTokenId">config.json's bos_token_id, else generation_config.json's, else the id of the bos_token string.</param>
/// <param name="PadTokenId">config.json's pad_token_id, else generation_config.json's, else the id of the pad_token string.</param>
/// <param name="BosToken">tokenizer_config.json's bos_token string (the chat templates' bos_token), or null.</param>
/// <param name="EosToken">tokenizer_config.json's eos_token string (the chat templates' eos_token), or null.</param>
public sealed record ModelSpecialTokens(IReadOnlyList<int> EosTokenIds, int? BosTokenId, int? PadTokenId, string? BosToken,
    string? EosToken)
{
    /// <summary>Reads the folder's files; <paramref name="idOf"/> maps a token string to its id.</summary>
    internal static ModelSpecialTokens Read(string folder, JsonElement config, Func<string, int?> idOf)
    {
        JsonElement generation = ModelFolderJson.ReadOptional(folder, "generation_config.json") ?? default;
        JsonElement tokenizerConfig = ModelFolderJson.ReadOptional(folder, "tokenizer_config.json") ?? default;
        JsonElement specialMap = ModelFolderJson.ReadOptional(folder, "special_tokens_map.json") ?? default;

        string? TokenString(string key) =>
            ModelFolderJson.TokenString(tokenizerConfig, "tokenizer_config.json", key)
            ?? ModelFolderJson.TokenString(specialMap, "special_tokens_map.json", key);

        int? IdOfString(string? token, string key)
        {
            if (token is null)
            {
                return null;
            }
            return idOf(token) ?? throw new InvalidDataException(
                $"tokenizer_config.json: '{key}' is {ModelFolderJson.Quote(token)}, which is not a token of tokenizer.json.");
        }

        int? FirstId(string key)
        {
            IReadOnlyList<int> fromConfig = ModelFolderJson.TokenIds(config, "config.json", key);
            IReadOnlyList<int> fromGeneration = ModelFolderJson.TokenIds(generation, "generation_config.json", key);
            return fromConfig.Count > 0 ? fromConfig[0] : fromGeneration.Count > 0 ? fromGeneration[0] : null;
        }

        string? bos = TokenString("bos_token");
        string? eos = TokenString("eos_token");
        var eosIds = new List<int>();
        eosIds.AddRange(ModelFolderJson.TokenIds(generation, "generation_config.json", "eos_token_id"));
        eosIds.AddRange(ModelFolderJson.TokenIds(config, "config.json", "eos_token_id"));
        if (IdOfString(eos, "eos_token") is int eosId)
        {
            eosIds.Add(eosId);
        }
        return new ModelSpecialTokens(
            eosIds.Distinct().ToArray(),
            FirstId("bos_token_id") ?? IdOfString(bos, "bos_token"),
            FirstId("pad_token_id") ?? IdOfString(TokenString("pad_token"), "pad_token"),
            bos,
            eos);
    }
}
