using System.Collections.Generic;
using System.Linq;
using System.Reflection;

namespace MoeLayers.Cuda
{
    /// <summary>One kernel as both launchers see it: the C# method (generic arguments bound) and its parameters.</summary>
    internal sealed class KernelDefinition
    {
        /// <summary>Describes <paramref name="method"/>, a static explicitly grouped ILGPU kernel.</summary>
        /// <param name="method">The kernel method with all generic arguments bound.</param>
        public KernelDefinition(MethodInfo method)
        {
            Method = method;
            Parameters = method.GetParameters().Select(KernelParameter.From).ToArray();
            Name = method.IsGenericMethod
                ? $"{method.Name}<{string.Join(", ", method.GetGenericArguments().Select(Readable))}>"
                : method.Name;
        }

        /// <summary>Readable name, with generic arguments.</summary>
        public string Name { get; }

        /// <summary>The kernel method.</summary>
        public MethodInfo Method { get; }

        /// <summary>Parameters in order.</summary>
        public IReadOnlyList<KernelParameter> Parameters { get; }

        /// <inheritdoc />
        public override string ToString() => Name;

        private static string Readable(System.Type type) => type.IsGenericType
            ? $"{type.Name[..type.Name.IndexOf('`')]}<{string.Join(", ", type.GetGenericArguments().Select(Readable))}>"
            : type.Name;
    }
}
