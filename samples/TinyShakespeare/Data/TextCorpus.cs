using System;
using System.IO;
using System.Text;
using static TorchSharp.torch;

namespace MoeLayers.Samples.TinyShakespeare.Data
{
    /// <summary>
    /// A text file as two token streams: the first 90 % of its characters for training, the last 10 % for validation
    /// (a contiguous split, so validation text is unseen). The vocabulary covers the whole file.
    /// </summary>
    public sealed class TextCorpus
    {
        /// <summary>Share of the characters that go to training.</summary>
        public const double TrainFraction = 0.9;

        private TextCorpus(string source, CharTokenizer tokenizer, Tensor train, Tensor validation)
        {
            Source = source;
            Tokenizer = tokenizer;
            Train = train;
            Validation = validation;
        }

        /// <summary>The bundled tiny-shakespeare text, next to the executable.</summary>
        public static string DefaultPath => Path.Combine(AppContext.BaseDirectory, "data", "tinyshakespeare", "input.txt");

        /// <summary>Where the text came from (a path, or a description).</summary>
        public string Source { get; }

        /// <summary>The character vocabulary of the whole text.</summary>
        public CharTokenizer Tokenizer { get; }

        /// <summary>Training tokens, int64 [N_train].</summary>
        public Tensor Train { get; }

        /// <summary>Validation tokens, int64 [N_validation].</summary>
        public Tensor Validation { get; }

        /// <summary>Reads a UTF-8 text file and splits it.</summary>
        /// <param name="path">The text file.</param>
        /// <param name="blockSize">Context length of the model: each split must hold at least one block plus its next character.</param>
        /// <param name="tokenizer">An existing vocabulary (a checkpoint's), or null to build one from the text.</param>
        /// <exception cref="FileNotFoundException">The file does not exist.</exception>
        /// <exception cref="InvalidDataException">The file is empty, or too short for one block in each split.</exception>
        public static TextCorpus Load(string path, int blockSize, CharTokenizer? tokenizer = null)
        {
            ArgumentException.ThrowIfNullOrEmpty(path);
            if (!File.Exists(path)) throw new FileNotFoundException($"No text file at {path}.", path);
            var text = File.ReadAllText(path, Encoding.UTF8);
            if (text.Length == 0) throw new InvalidDataException($"The text file {path} is empty.");
            if (TooShort(text.Length, blockSize) is { } problem) throw new InvalidDataException($"{path}: {problem}");
            try
            {
                return FromText(text, blockSize, path, tokenizer);
            }
            catch (ArgumentException e) when (e.ParamName == "text")
            {
                throw new InvalidDataException($"{path}: {e.Message.Replace(" (Parameter 'text')", "")}", e);
            }
        }

        /// <summary>Splits an in-memory text.</summary>
        /// <param name="text">The text.</param>
        /// <param name="blockSize">Context length of the model, at least 1.</param>
        /// <param name="source">A description of where the text came from.</param>
        /// <param name="tokenizer">An existing vocabulary, or null to build one from the text.</param>
        /// <exception cref="ArgumentException">The text is empty, too short for one block per split, or has characters
        /// outside <paramref name="tokenizer"/>.</exception>
        public static TextCorpus FromText(string text, int blockSize, string source = "text", CharTokenizer? tokenizer = null)
        {
            ArgumentNullException.ThrowIfNull(text);
            if (blockSize < 1) throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, "blockSize must be at least 1.");
            if (text.Length == 0) throw new ArgumentException("text must not be empty.", nameof(text));
            if (TooShort(text.Length, blockSize) is { } problem) throw new ArgumentException(problem, nameof(text));
            var trainLength = TrainLength(text.Length);
            var validationLength = text.Length - trainLength;

            tokenizer ??= CharTokenizer.FromText(text);
            var ids = tokenizer.Encode(text);
            var all = tensor(ids, int64);
            return new TextCorpus(source, tokenizer, all.narrow(0, 0, trainLength), all.narrow(0, trainLength, validationLength));
        }

        /// <summary>Why a text of <paramref name="length"/> characters cannot be split for this block size, or null if it can.</summary>
        private static string? TooShort(int length, int blockSize)
        {
            var validationLength = length - TrainLength(length);
            return validationLength >= blockSize + 1
                ? null
                : $"text has {length} characters; its {100 - TrainFraction * 100:F0} % validation part ({validationLength}) must hold " +
                  $"one block plus the next character ({blockSize + 1}). Use a text of at least {MinimumLength(blockSize)} characters " +
                  "or a smaller block size.";
        }

        /// <summary>Characters of a text of <paramref name="length"/> that go to training (floor of 90 %).</summary>
        public static int TrainLength(int length) => (int)(length * 9L / 10);

        /// <summary>The shortest text whose validation part holds one block plus the next character.</summary>
        public static int MinimumLength(int blockSize)
        {
            var length = blockSize + 1;
            while (length - TrainLength(length) < blockSize + 1) length++;
            return length;
        }
    }
}
