using System;
using System.Collections.Generic;

namespace MoeLayers.Samples.MoeModel.Text;

/// <summary>Text → ids through one tokenizer library, without the post-processor's added ids.</summary>
internal interface ITokenEncoder : IDisposable
{
    /// <summary>The library that encodes, for the README and the sample's output.</summary>
    string Library { get; }

    /// <summary>The ids of <paramref name="text"/>; added tokens in the text become their ids.</summary>
    IReadOnlyList<int> Encode(string text);
}
