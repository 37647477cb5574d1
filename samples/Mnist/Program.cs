using System;

namespace MoeLayers.Samples.Mnist
{
    internal static class Program
    {
        private static int Main()
        {
            Console.WriteLine("Training comes later.");
            return 0;
        }
    }
}
