using System;
using System.IO;

namespace MoeLayers.Samples.MoeModel.Commands
{
    /// <summary>The text file the perplexity and finetune commands read: the bundled default and reading with a character limit.</summary>
    internal static class TextArguments
    {
        /// <summary>The bundled tiny-shakespeare text.</summary>
        public static string BundledText => Path.Combine(AppContext.BaseDirectory, "data", "tinyshakespeare", "input.txt");

        /// <summary>The file's text, cut to its first <paramref name="maxCharacters"/> characters (0: all).</summary>
        /// <param name="path">The UTF-8 text file.</param>
        /// <param name="maxCharacters">At most this many characters, ≥ 0; 0 reads all.</param>
        /// <param name="fileOption">The option that named the file, for messages.</param>
        public static string Read(string path, int maxCharacters, string fileOption)
        {
            if (maxCharacters < 0) throw new ArgumentOutOfRangeException(nameof(maxCharacters), maxCharacters, "--max-characters must be ≥ 0.");
            if (!File.Exists(path)) throw new FileNotFoundException($"{fileOption}: '{path}' does not exist.", path);
            var text = File.ReadAllText(path);
            return maxCharacters > 0 && text.Length > maxCharacters ? text[..maxCharacters] : text;
        }
    }
}
