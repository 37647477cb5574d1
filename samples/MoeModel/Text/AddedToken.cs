namespace MoeLayers.Samples.MoeModel.Text;

/// <summary>A token of tokenizer.json's added_tokens: matched in text before BPE, never split.</summary>
/// <param name="Id">The token id.</param>
/// <param name="Content">The token text, e.g. &lt;|im_start|&gt;.</param>
/// <param name="IsSpecial">Whether decoding with skipSpecialTokens leaves it out (Qwen3's &lt;think&gt; is added but not special).</param>
public sealed record AddedToken(int Id, string Content, bool IsSpecial);
