namespace MoeLayers.Samples.MoeModel.Text;

/// <summary>The two tokenizer.json shapes of the supported families.</summary>
public enum TokenizerKind
{
    /// <summary>
    /// GPT-2-style byte-level BPE (Qwen3, OLMoE, gpt-oss, GLM-4.5): a regex pre-tokenizer, UTF-8 bytes mapped to
    /// printable symbols, a ByteLevel decoder. Encoded through Microsoft.ML.Tokenizers.
    /// </summary>
    ByteLevelBpe,

    /// <summary>
    /// SentencePiece-style BPE in Hugging Face form (Mixtral): the ▁ metaspace, byte fallback to &lt;0xXX&gt; tokens,
    /// a Replace/ByteFallback/Fuse/Strip decoder. Encoded through Tokenizers.DotNet (Hugging Face tokenizers).
    /// </summary>
    SentencePieceBpe,
}
