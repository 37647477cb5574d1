using System.CommandLine;
using MoeLayers.Samples.MoeModel.Text;

namespace MoeLayers.Samples.MoeModel.Commands
{
    /// <summary><c>tokenize</c>: the ids of a text, their decoding and the text as a chat prompt (<see cref="TokenizeCommand"/>).</summary>
    internal static class TokenizeCommandLine
    {
        public static Command Create()
        {
            var folder = ModelArguments.Folder();
            var text = new Option<string>("--text") { Description = "The text to tokenize.", DefaultValueFactory = _ => "To be, or not to be: that is the question." };
            var command = new Command("tokenize", "Show how the folder's tokenizer and chat template see a text.") { folder, text };
            command.SetAction(parse => CommandErrors.Run(() => TokenizeCommand.Run(parse.GetValue(folder)!, parse.GetValue(text)!)));
            return command;
        }
    }
}
