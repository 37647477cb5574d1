using System.Collections.Generic;

namespace MoeLayers.Interop
{
    /// <summary>What kind of disagreement between a file and the tensors it should load into.</summary>
    public enum StateDictProblemKind
    {
        /// <summary>The target has a tensor the file lacks.</summary>
        MissingKey,

        /// <summary>The file has a tensor (under the prefix) the target lacks; an error in strict mode only.</summary>
        UnexpectedKey,

        /// <summary>Same key, different shape.</summary>
        ShapeMismatch,

        /// <summary>Same key and shape, different dtype (and dtype conversion was not allowed).</summary>
        DTypeMismatch,
    }

    /// <summary>One disagreement found while validating a load, before anything was modified.</summary>
    public sealed class StateDictProblem
    {
        internal StateDictProblem(StateDictProblemKind kind, string key, string fileKey,
            IReadOnlyList<long>? expectedShape = null, IReadOnlyList<long>? actualShape = null,
            string? expectedDType = null, string? actualDType = null)
        {
            Kind = kind;
            Key = key;
            FileKey = fileKey;
            ExpectedShape = expectedShape;
            ActualShape = actualShape;
            ExpectedDType = expectedDType;
            ActualDType = actualDType;
        }

        /// <summary>The kind of problem.</summary>
        public StateDictProblemKind Kind { get; }

        /// <summary>The key as the target names it (without the prefix).</summary>
        public string Key { get; }

        /// <summary>The key as the file names it (with the prefix).</summary>
        public string FileKey { get; }

        /// <summary>The target's shape (missing key, shape mismatch), or null.</summary>
        public IReadOnlyList<long>? ExpectedShape { get; }

        /// <summary>The file's shape (unexpected key, shape mismatch), or null.</summary>
        public IReadOnlyList<long>? ActualShape { get; }

        /// <summary>The target's dtype (dtype mismatch), or null.</summary>
        public string? ExpectedDType { get; }

        /// <summary>The file's dtype (dtype mismatch), or null.</summary>
        public string? ActualDType { get; }

        /// <summary>One line naming the key, what the target expects and what the file has.</summary>
        public override string ToString() => Kind switch
        {
            StateDictProblemKind.MissingKey => $"missing key '{FileKey}': the target expects shape {Shape(ExpectedShape)} but the file has no such tensor",
            StateDictProblemKind.UnexpectedKey => $"unexpected key '{FileKey}' (shape {Shape(ActualShape)}): the target has no tensor '{Key}'",
            StateDictProblemKind.ShapeMismatch => $"shape mismatch for '{FileKey}': expected shape {Shape(ExpectedShape)}, the file has {Shape(ActualShape)}",
            _ => $"dtype mismatch for '{FileKey}' (shape {Shape(ActualShape)}): expected {ExpectedDType}, the file has {ActualDType}",
        };

        private static string Shape(IReadOnlyList<long>? shape) => shape is null ? "?" : SafetensorsTensorInfo.FormatShape(shape);
    }
}
