using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;

namespace MoeLayers.Samples.MoeModel.Text;

/// <summary>
/// SentencePiece-style BPE with byte fallback (Mixtral) through Tokenizers.DotNet, a wrapper of Hugging Face's own
/// tokenizers library (Rust, native): Microsoft.ML.Tokenizers' BpeTokenizer has no Prepend/Replace normalizer and no
/// byte fallback, and its LlamaTokenizer reads tokenizer.model, not tokenizer.json.
/// </summary>
internal sealed class HuggingFaceTokenizersEncoder : ITokenEncoder
{
    private readonly Tokenizers.DotNet.Tokenizer tokenizer;
    private readonly TokenizerJson json;

    public HuggingFaceTokenizersEncoder(TokenizerJson json)
    {
        this.json = json;
        try
        {
            tokenizer = new Tokenizers.DotNet.Tokenizer(json.Path);
        }
        catch (Tokenizers.DotNet.TokenizerException e)
        {
            throw new InvalidDataException($"{json.Path}: Hugging Face tokenizers could not read it: {e.Message}", e);
        }
        catch (Exception e) when (e is DllNotFoundException or BadImageFormatException or EntryPointNotFoundException)
        {
            throw new PlatformNotSupportedException(
                $"Tokenizers.DotNet's native library (libhf_tokenizers) did not load on {System.Runtime.InteropServices.RuntimeInformation.RuntimeIdentifier}; "
                + "samples/MoeModel references its only served runtime package, linux-x64. It is needed for "
                + $"{json.Path} (SentencePiece BPE with byte fallback).", e);
        }
    }

    /// <inheritdoc />
    public string Library => "Tokenizers.DotNet (Hugging Face tokenizers)";

    /// <inheritdoc />
    public IReadOnlyList<int> Encode(string text)
    {
        // The wrapper always adds the post-processor's tokens (add_special_tokens = true); take them off here so that
        // the caller decides, as with the other encoder.
        int[] ids = tokenizer.Encode(text).Select(id => checked((int)id)).ToArray();
        IReadOnlyList<int> prefix = json.PostProcessorPrefixIds;
        IReadOnlyList<int> suffix = json.PostProcessorSuffixIds;
        if (ids.Length < prefix.Count + suffix.Count || !ids.Take(prefix.Count).SequenceEqual(prefix)
            || !ids.Skip(ids.Length - suffix.Count).SequenceEqual(suffix))
        {
            throw new InvalidOperationException(
                $"{json.Path}: Hugging Face tokenizers did not add the post-processor's tokens [{string.Join(", ", prefix)}] … [{string.Join(", ", suffix)}] that the file names.");
        }
        return ids[prefix.Count..(ids.Length - suffix.Count)];
    }

    /// <inheritdoc />
    public void Dispose() => tokenizer.Dispose();
}
