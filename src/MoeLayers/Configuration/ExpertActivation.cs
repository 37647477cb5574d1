namespace MoeLayers
{
    /// <summary>Activation of an expert's hidden layer.</summary>
    public enum ExpertActivation
    {
        /// <summary>max(0, x·W_in)·W_out.</summary>
        Relu,

        /// <summary>GELU(x·W_in)·W_out (exact erf form).</summary>
        Gelu,

        /// <summary>(SiLU(x·W_gate) ⊙ x·W_in)·W_out, as in Llama and Mixtral.</summary>
        SwiGlu,
    }
}
