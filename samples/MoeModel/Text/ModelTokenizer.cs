using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;

namespace MoeLayers.Samples.MoeModel.Text;

/// <summary>
/// A model folder's tokenizer: its tokenizer.json (encode / decode / streaming decode), its bos / eos / pad ids and
/// its chat template (per-family C#; nothing read from the folder is executed).
/// </summary>
/// <remarks>
/// Byte-level BPE families encode through Microsoft.ML.Tokenizers, Mistral-style SentencePiece BPE through
/// Tokenizers.DotNet (Hugging Face tokenizers); both decode through <see cref="TokenDecoder"/>. See the "Tokenizer"
/// section of samples/MoeModel/README.md for why.
/// </remarks>
public sealed class ModelTokenizer : IDisposable
{
    private readonly ITokenEncoder encoder;
    private readonly TokenDecoder decoder;
    private readonly TokenizerJson json;
    private readonly Dictionary<string, int> addedIds;
    private readonly IChatTemplate? chatTemplate;
    private readonly string chatTemplateUnavailable;

    private ModelTokenizer(string folder, string modelType, TokenizerJson json, ITokenEncoder encoder,
        ModelSpecialTokens specialTokens, IChatTemplate? chatTemplate, string chatTemplateUnavailable)
    {
        Folder = folder;
        ModelType = modelType;
        this.json = json;
        this.encoder = encoder;
        decoder = new TokenDecoder(json);
        addedIds = json.AddedTokens.ToDictionary(t => t.Content, t => t.Id, StringComparer.Ordinal);
        SpecialTokens = specialTokens;
        this.chatTemplate = chatTemplate;
        this.chatTemplateUnavailable = chatTemplateUnavailable;
    }

    /// <summary>The folder the tokenizer was read from.</summary>
    public string Folder { get; }

    /// <summary>config.json's model_type, which picks the chat template.</summary>
    public string ModelType { get; }

    /// <summary>Which tokenizer.json shape the folder has.</summary>
    public TokenizerKind Kind => json.Kind;

    /// <summary>The library that encodes this folder's text.</summary>
    public string EncodingLibrary => encoder.Library;

    /// <summary>One more than the largest token id (vocabulary and added tokens).</summary>
    public int VocabularySize => decoder.VocabularySize;

    /// <summary>bos / eos / pad ids and strings.</summary>
    public ModelSpecialTokens SpecialTokens { get; }

    /// <summary>The ids that end generation (<see cref="ModelSpecialTokens.EosTokenIds"/>).</summary>
    public IReadOnlyList<int> EosTokenIds => SpecialTokens.EosTokenIds;

    /// <summary>The chat template of <see cref="ModelType"/>, or null when the folder has none this sample reproduces
    /// (<see cref="ApplyChatTemplate"/> then says why).</summary>
    public IChatTemplate? ChatTemplate => chatTemplate;

    /// <summary>
    /// Opens the tokenizer of a Hugging Face model folder: tokenizer.json and config.json are required;
    /// generation_config.json, tokenizer_config.json and special_tokens_map.json are read when present.
    /// </summary>
    /// <exception cref="FileNotFoundException">tokenizer.json or config.json is missing.</exception>
    /// <exception cref="InvalidDataException">A file is not JSON, or a key is missing or mistyped (the message names both).</exception>
    /// <exception cref="NotSupportedException">tokenizer.json describes a tokenizer outside the supported shapes.</exception>
    public static ModelTokenizer Open(string folder)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        if (!Directory.Exists(folder))
        {
            throw new DirectoryNotFoundException($"Model folder '{folder}' does not exist.");
        }
        JsonElement config = ModelFolderJson.Read(folder, "config.json",
            "the tokenizer reads model_type (which chat template) and eos_token_id from it.");
        string modelType = ModelFolderJson.RequiredString(config, "config.json", "model_type");
        TokenizerJson json = TokenizerJson.Read(folder);
        ITokenEncoder encoder = json.Kind == TokenizerKind.ByteLevelBpe
            ? new ByteLevelBpeEncoder(json)
            : new HuggingFaceTokenizersEncoder(json);
        try
        {
            var vocabularyIds = new Dictionary<string, int>(json.Vocabulary, StringComparer.Ordinal);
            foreach (AddedToken added in json.AddedTokens)
            {
                vocabularyIds[added.Content] = added.Id;
            }
            ModelSpecialTokens special = ModelSpecialTokens.Read(folder, config,
                token => vocabularyIds.TryGetValue(token, out int id) ? id : null);
            (IChatTemplate? template, string unavailable) = ChatTemplates.ForFolder(folder, modelType, special);
            return new ModelTokenizer(folder, modelType, json, encoder, special, template, unavailable);
        }
        catch
        {
            encoder.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The ids of <paramref name="text"/>. Added tokens written in the text (e.g. &lt;|im_start|&gt;) become their
    /// ids either way; <paramref name="addSpecialTokens"/> adds what tokenizer.json's post-processor adds (Mixtral's
    /// &lt;s&gt;; none for the byte-level families), as Hugging Face's add_special_tokens does.
    /// </summary>
    public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        IReadOnlyList<int> ids = encoder.Encode(text);
        if (!addSpecialTokens || (json.PostProcessorPrefixIds.Count == 0 && json.PostProcessorSuffixIds.Count == 0))
        {
            return ids;
        }
        return json.PostProcessorPrefixIds.Concat(ids).Concat(json.PostProcessorSuffixIds).ToArray();
    }

    /// <summary>The text of <paramref name="ids"/>; special tokens are left out when <paramref name="skipSpecialTokens"/>.</summary>
    /// <remarks>Ids no token has (a model's padded vocabulary rows) decode to nothing, as in Hugging Face tokenizers.</remarks>
    /// <exception cref="ArgumentOutOfRangeException">An id is negative.</exception>
    public string Decode(IReadOnlyList<int> ids, bool skipSpecialTokens = false)
    {
        ArgumentNullException.ThrowIfNull(ids);
        return decoder.Decode(ids, skipSpecialTokens);
    }

    /// <summary>A detokenizer for one generated stream (special tokens left out when <paramref name="skipSpecialTokens"/>).</summary>
    public StreamingDetokenizer NewStreamingDetokenizer(bool skipSpecialTokens = true)
    {
        return new StreamingDetokenizer(ids => decoder.Decode(ids, skipSpecialTokens));
    }

    /// <summary>The id of a token string (vocabulary or added token), or null.</summary>
    public int? TokenToId(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        return addedIds.TryGetValue(token, out int added) ? added
            : json.Vocabulary.TryGetValue(token, out int id) ? id : null;
    }

    /// <summary>The token string of an id, or null for an id no token has.</summary>
    public string? IdToToken(int id) => decoder.TokenOf(id);

    /// <summary>
    /// Renders a conversation with the family's chat template, exactly as its published Jinja template renders plain
    /// text messages (see <see cref="IChatTemplate"/>).
    /// </summary>
    /// <exception cref="NotSupportedException">The folder has no chat template this sample reproduces, or a message or
    /// option is outside the supported subset (the message names it).</exception>
    public string ApplyChatTemplate(IReadOnlyList<ChatTurn> messages, ChatTemplateOptions? options = null)
    {
        IChatTemplate template = chatTemplate ?? throw new NotSupportedException(chatTemplateUnavailable);
        return template.Render(messages, options ?? new ChatTemplateOptions());
    }

    /// <inheritdoc />
    public void Dispose() => encoder.Dispose();
}
