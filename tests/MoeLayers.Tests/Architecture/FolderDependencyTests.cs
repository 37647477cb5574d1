using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using FluentAssertions;
using Xunit.Abstractions;

// Not MoeLayers.Tests.Architecture: that namespace would hide System.Runtime.InteropServices.Architecture from the other tests.
namespace MoeLayers.Tests.Dependencies
{
    /// <summary>
    /// The first-level folders of src/MoeLayers (Configuration, Routing, Dispatch, Experts, Layers, ...; files directly
    /// in src/MoeLayers form the folder "(root)") must depend on each other without cycles, so that each folder can be
    /// read, tested and changed with only the folders below it in mind.
    /// </summary>
    /// <remarks>
    /// <para>The check reads the source text, not the compiled assembly (every folder shares the one MoeLayers namespace,
    /// so namespaces say nothing). Folder A depends on folder B when a file of A names a type declared in B. The rule for
    /// "names a type", chosen so that the test errs towards missing an edge rather than inventing one:</para>
    /// <list type="bullet">
    /// <item>Comments (XML doc comments included: a <c>cref</c> is not a dependency), string and character literals and
    /// preprocessor lines are removed first; the code inside interpolation holes is kept, their format specifiers are
    /// not. Raw string literals are removed whole, holes included.</item>
    /// <item>Only identifiers that name a type (class, struct, interface, enum, record, delegate; nested types too)
    /// declared in src/MoeLayers count, and only when that name is declared in exactly one folder. Private nested types
    /// are left out: no other folder can name them.</item>
    /// <item>An identifier after <c>.</c>, <c>?.</c>, <c>-&gt;</c> or <c>::</c> is a member (<c>o.SharedExperts</c>,
    /// <c>options.Router</c>), unless it is qualified by the MoeLayers namespace itself (<c>MoeLayers.Capacity</c>).</item>
    /// <item>An identifier that is being declared does not count: one right after a type (<c>int SharedExperts</c>,
    /// <c>RouterKind Router</c>, <c>List&lt;T&gt; Capacity</c>, <c>long? Capacity</c>), so properties, fields,
    /// parameters and locals named like a type are not references (their type is). Bare uses of such a member name in
    /// the same file (<c>SharedExperts &gt; 0</c> inside the class that declares it) do not count either, unless the
    /// use can only be a type (<c>Router router</c>, <c>new Router(</c>, <c>is Router</c>, <c>&lt;Router</c>).
    /// Enum bodies hold member names only.</item>
    /// <item>Object-initializer, named-argument, tuple-element and property-pattern names (an identifier after
    /// <c>{</c>, <c>(</c> or <c>,</c> and before <c>=</c> or <c>:</c>, as in <c>new MoeLayerOptions { Router = ... }</c>)
    /// are members, not types.</item>
    /// <item>Generic type parameters declared in a file (<c>Pick&lt;TValue&gt;(...)</c>) are not types of
    /// src/MoeLayers, even when they share a name with one.</item>
    /// <item>Using directives: <c>using N;</c> names a namespace and counts for nothing; <c>using static X;</c> and
    /// <c>using A = X;</c> count X only when X is qualified by the MoeLayers namespace; an alias <c>A</c> is then
    /// excluded from the file's bare identifiers. Using statements and declarations are ordinary code.</item>
    /// <item>A folder's use of its own types is not an edge. The linked build/GlibcxxWeakVersionPatch.cs is not under
    /// src/MoeLayers and is not read.</item>
    /// </list>
    /// </remarks>
    public class FolderDependencyTests
    {
        private readonly ITestOutputHelper _output;

        public FolderDependencyTests(ITestOutputHelper output) => _output = output;

        [Fact]
        public void TheFoldersOfTheCoreDependOnEachOtherWithoutCycles()
        {
            var root = Path.Combine(RepositoryRoot(), "src", "MoeLayers");
            var files = Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories)
                .Select(path => Path.GetRelativePath(root, path).Replace('\\', '/'))
                .Where(relative => !relative.StartsWith("bin/", StringComparison.Ordinal) && !relative.StartsWith("obj/", StringComparison.Ordinal))
                .OrderBy(relative => relative, StringComparer.Ordinal)
                .Select(relative => new SourceFile(relative, File.ReadAllText(Path.Combine(root, relative))))
                .ToList();
            files.Select(f => f.Folder).Distinct().Should().HaveCountGreaterThan(4, "src/MoeLayers is read from {0}", root);

            var graph = FolderDependencies.Build(files);
            graph.Edges.Should().NotBeEmpty("the folders of the core use each other's types");
            foreach (var edge in graph.Edges) _output.WriteLine($"{edge.From} → {edge.To}: {edge.File}:{edge.Line} uses {edge.Type}");

            var cycles = CycleFinder.ElementaryCycles(graph.Successors(), limit: 200);
            cycles.Should().BeEmpty(graph.Describe(cycles));
        }

        [Fact]
        public void CycleFinderFindsEveryElementaryCycleOfAHandMadeGraph()
        {
            var graph = new Dictionary<string, IReadOnlyCollection<string>>
            {
                ["A"] = new[] { "B" },
                ["B"] = new[] { "C", "D" },
                ["C"] = new[] { "A" },
                ["D"] = new[] { "B", "E" },
                ["E"] = Array.Empty<string>(),
                ["F"] = new[] { "F", "A" },
            };

            CycleFinder.ElementaryCycles(graph).Should().BeEquivalentTo(
                new[] { new[] { "F" }, new[] { "B", "D" }, new[] { "A", "B", "C" } },
                options => options.WithStrictOrdering(), "shortest first, each starting at its smallest folder");
        }

        [Fact]
        public void CycleFinderFindsNoCycleInALayeredGraphAndStopsAtItsLimit()
        {
            var layered = new Dictionary<string, IReadOnlyCollection<string>>
            {
                ["Layers"] = new[] { "Routing", "Dispatch", "Experts" },
                ["Routing"] = new[] { "Configuration" },
                ["Dispatch"] = new[] { "Routing", "Configuration" },
                ["Experts"] = new[] { "Configuration" },
                ["Configuration"] = Array.Empty<string>(),
            };
            CycleFinder.ElementaryCycles(layered).Should().BeEmpty();

            var complete = Enumerable.Range(0, 6).Select(i => i.ToString()).ToArray();
            var dense = complete.ToDictionary(n => n, n => (IReadOnlyCollection<string>)complete.Where(m => m != n).ToArray());
            CycleFinder.ElementaryCycles(dense, limit: 10).Should().HaveCount(10);
        }

        [Fact]
        public void CommentsCrefsStringsAndPreprocessorLinesAreRemovedButInterpolationHolesStay()
        {
            const string source = """"
                #if DEBUG
                /// <summary>See <see cref="Router"/>.</summary>
                var a = "Router"; // Router
                var b = @"Router ""quoted"" Router"; /* Router
                   Router */ var c = 'R';
                var d = $"x {Capacity.Of(1):F2} y {{Router}}";
                var e = $@"{Capacity.Of(2),4} ""Router""";
                var f = $"outer {(ok ? $"inner {Capacity.Of(3)}" : "Router")}";
                var g = """Router""";
                """";

            var code = CSharpCode.Strip(source);

            code.Should().NotContain("Router").And.NotContain("DEBUG").And.NotContain("F2").And.NotContain("quoted");
            code.Should().Contain("Capacity.Of(1)").And.Contain("Capacity.Of(2)").And.Contain("Capacity.Of(3)");
            code.Split('\n').Should().HaveCount(source.Split('\n').Length, "line numbers are kept");
        }

        [Fact]
        public void MemberNamesGenericParametersAndNamespaceUsingsAreNotTypeReferences()
        {
            var types = new[] { "Router", "SharedExperts", "Capacity", "Options", "TokenMask" };
            const string source = """
                using System;
                using Options = Microsoft.Extensions.Options.Options;
                using static TorchSharp.torch;
                namespace MoeLayers
                {
                    public sealed class Settings
                    {
                        public int SharedExperts { get; set; }
                        public long? Capacity { get; }
                        public string Options => Options.DefaultName + options.Router + this.Capacity;
                        public bool Any => SharedExperts > 0 && o?.TokenMask != null;
                        public static TValue Pick<Router>(Router value) => value;
                        public object Make() => new Other { SharedExperts = 2, Router = 1 } is { Capacity: 3 } ? Call(tokenMask: 1) : Call(Router: 2);
                    }
                }
                """;

            CSharpCode.TypeReferences(source, types).Should().BeEmpty();
        }

        [Fact]
        public void TypesInSignaturesGenericArgumentsPatternsAndQualifiedUsingStaticAreReferences()
        {
            var types = new[] { "Router", "Capacity", "Guard", "TokenMask", "SharedExperts", "MoeLayerOptions", "ExpertBank" };
            const string source = """
                using static MoeLayers.Guard;
                namespace MoeLayers
                {
                    internal sealed class Uses : ExpertBank
                    {
                        private readonly List<Router> _routers = new();
                        public SharedExperts? Shared { get; }
                        public int Run(object x) => x is TokenMask mask ? MoeLayers.Capacity.Of(1) : new MoeLayerOptions { TopK = 1 }.TopK;
                    }
                }
                """;

            CSharpCode.TypeReferences(source, types).Select(r => r.Type).Should().BeEquivalentTo(types);
        }

        [Fact]
        public void EdgesLeaveOutAFoldersOwnTypesNamesDeclaredInTwoFoldersAndPrivateNestedTypes()
        {
            var files = new[]
            {
                new SourceFile("Routing/Router.cs", "namespace MoeLayers { internal abstract class Router { private sealed record Entry(int X); } internal enum Part { A } }"),
                new SourceFile("Losses/Loss.cs", "namespace MoeLayers { internal static class Loss { internal sealed record Part(int N); } }"),
                new SourceFile("Layers/Layer.cs", "namespace MoeLayers { internal sealed class Layer { Router R; Entry E; Part P; Layer Self; } }"),
            };

            var graph = FolderDependencies.Build(files);

            graph.Edges.Should().ContainSingle().Which.Should().Be(new FolderEdge("Layers", "Routing", "Layers/Layer.cs", 1, "Router"));
        }

        internal static string RepositoryRoot()
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "MoeLayers.sln"))) return dir.FullName;
            }
            throw new InvalidOperationException("MoeLayers.sln not found above " + AppContext.BaseDirectory);
        }
    }

    /// <summary>A source file of src/MoeLayers: its path relative to src/MoeLayers ('/'-separated) and its text.</summary>
    internal sealed record SourceFile(string Path, string Text)
    {
        /// <summary>The first folder under src/MoeLayers, or "(root)" for a file directly in it.</summary>
        public string Folder => Path.Contains('/') ? Path.Substring(0, Path.IndexOf('/')) : "(root)";
    }

    /// <summary>Folder <paramref name="From"/> uses a type of folder <paramref name="To"/>; the first such use found.</summary>
    internal sealed record FolderEdge(string From, string To, string File, int Line, string Type);

    /// <summary>The folder graph of a set of source files, one example use per edge.</summary>
    internal sealed class FolderDependencies
    {
        private FolderDependencies(IReadOnlyList<string> folders, IReadOnlyList<FolderEdge> edges)
        {
            Folders = folders;
            Edges = edges;
        }

        public IReadOnlyList<string> Folders { get; }

        public IReadOnlyList<FolderEdge> Edges { get; }

        public static FolderDependencies Build(IReadOnlyList<SourceFile> files)
        {
            var declared = files
                .SelectMany(file => CSharpCode.DeclaredTypes(file.Text).Select(type => (type.Name, type.IsPrivate, file.Folder)))
                .ToList();
            // Names declared in exactly one folder, and not only as private nested types.
            var owner = declared.GroupBy(d => d.Name, StringComparer.Ordinal)
                .Where(g => g.Select(d => d.Folder).Distinct().Count() == 1 && g.Any(d => !d.IsPrivate))
                .ToDictionary(g => g.Key, g => g.First().Folder, StringComparer.Ordinal);
            var edges = new Dictionary<(string, string), FolderEdge>();
            foreach (var file in files)
            {
                foreach (var (type, line) in CSharpCode.TypeReferences(file.Text, owner.Keys))
                {
                    var to = owner[type];
                    if (to != file.Folder && !edges.ContainsKey((file.Folder, to)))
                        edges[(file.Folder, to)] = new FolderEdge(file.Folder, to, file.Path, line, type);
                }
            }
            var folders = files.Select(f => f.Folder).Distinct().OrderBy(f => f, StringComparer.Ordinal).ToList();
            return new FolderDependencies(folders, edges.Values.OrderBy(e => e.From, StringComparer.Ordinal).ThenBy(e => e.To, StringComparer.Ordinal).ToList());
        }

        public IReadOnlyDictionary<string, IReadOnlyCollection<string>> Successors() =>
            Folders.ToDictionary(f => f, f => (IReadOnlyCollection<string>)Edges.Where(e => e.From == f).Select(e => e.To).ToList());

        /// <summary>Each cycle with one example use per edge, for the failure message.</summary>
        public string Describe(IReadOnlyList<IReadOnlyList<string>> cycles)
        {
            if (cycles.Count == 0) return "the folders of src/MoeLayers have no cycle";
            var edge = Edges.ToDictionary(e => (e.From, e.To));
            var text = new StringBuilder();
            var involved = cycles.SelectMany(c => c).Distinct().OrderBy(f => f, StringComparer.Ordinal);
            text.AppendLine($"the folders of src/MoeLayers must not depend on each other in a cycle; found {cycles.Count} elementary cycle(s) through {string.Join(", ", involved)}:");
            foreach (var cycle in cycles)
            {
                text.AppendLine("  " + string.Join(" → ", cycle.Append(cycle[0])));
                for (var i = 0; i < cycle.Count; i++)
                {
                    var e = edge[(cycle[i], cycle[(i + 1) % cycle.Count])];
                    text.AppendLine($"    {e.From} → {e.To}: {e.File}:{e.Line} uses {e.Type}");
                }
            }
            return text.ToString();
        }
    }

    /// <summary>Elementary cycles of a small directed graph.</summary>
    internal static class CycleFinder
    {
        /// <summary>
        /// Every elementary cycle (no node twice), each as its nodes in edge order starting at its smallest node
        /// (ordinal), shortest first, then in ordinal order; at most <paramref name="limit"/> of them (the search stops
        /// there, so a dense graph cannot make it run for long).
        /// </summary>
        public static IReadOnlyList<IReadOnlyList<string>> ElementaryCycles(IReadOnlyDictionary<string, IReadOnlyCollection<string>> graph, int limit = 1000)
        {
            var nodes = graph.Keys.Concat(graph.Values.SelectMany(v => v)).Distinct().OrderBy(n => n, StringComparer.Ordinal).ToList();
            var rank = nodes.Select((n, i) => (n, i)).ToDictionary(p => p.n, p => p.i);
            IEnumerable<string> Next(string n) => graph.TryGetValue(n, out var next) ? next.OrderBy(m => m, StringComparer.Ordinal) : Enumerable.Empty<string>();
            var cycles = new List<IReadOnlyList<string>>();
            var path = new List<string>();
            var onPath = new HashSet<string>();

            // Cycles whose smallest node is start: walk only through larger nodes and close back at start.
            void Walk(string start, string node)
            {
                path.Add(node);
                onPath.Add(node);
                foreach (var next in Next(node))
                {
                    if (cycles.Count >= limit) break;
                    if (next == start) cycles.Add(path.ToList());
                    else if (rank[next] > rank[start] && !onPath.Contains(next)) Walk(start, next);
                }
                path.RemoveAt(path.Count - 1);
                onPath.Remove(node);
            }

            foreach (var start in nodes)
            {
                if (cycles.Count >= limit) break;
                Walk(start, start);
            }
            return cycles.OrderBy(c => c.Count).ThenBy(c => string.Join("\u0001", c), StringComparer.Ordinal).ToList();
        }
    }

    /// <summary>A small C# scanner: enough to strip comments and literals and to find type declarations and uses.</summary>
    internal static class CSharpCode
    {
        private static readonly HashSet<string> TypeDeclarationKeywords = new(StringComparer.Ordinal)
        {
            "class", "struct", "interface", "enum", "record", "namespace",
        };

        // Keywords after which a type may be named (a use, not a declaration). Every other identifier before an
        // identifier is a type (int, var, Router, ...), so what follows it is being declared.
        private static readonly HashSet<string> KeywordsBeforeAType = new(StringComparer.Ordinal)
        {
            "new", "is", "as", "return", "out", "ref", "in", "params", "this", "static", "readonly", "public", "private",
            "internal", "protected", "sealed", "override", "virtual", "abstract", "const", "case", "typeof", "sizeof",
            "default", "throw", "await", "yield", "else", "partial", "unsafe", "extern", "volatile", "async", "required",
            "scoped", "file", "operator", "implicit", "explicit", "not", "and", "or", "when", "using", "fixed", "stackalloc",
            "checked", "unchecked", "lock", "do", "with", "where", "event", "delegate", "nameof", "global", "if", "while",
            "for", "foreach", "switch", "catch", "goto", "select", "from", "let", "orderby", "by", "on", "equals", "into",
            "group", "join", "ascending", "descending",
        };

        /// <summary>
        /// The text with comments, string and character literals and preprocessor lines replaced by spaces (line breaks
        /// kept); interpolation holes keep their code, framed by ';'.
        /// </summary>
        public static string Strip(string source)
        {
            var scanner = new Stripper(source);
            scanner.Code(inHole: false);
            return scanner.Output.ToString();
        }

        /// <summary>Types declared in the text (nested ones too), and whether each is private.</summary>
        public static IEnumerable<(string Name, bool IsPrivate)> DeclaredTypes(string source)
        {
            var tokens = Tokenize(Strip(source));
            for (var k = 1; k < tokens.Count; k++)
            {
                if (!tokens[k].IsIdentifier || IsKeyword(tokens[k].Text)) continue;
                var prev = tokens[k - 1].Text;
                var isDelegate = prev != "delegate" && IsDelegateName(tokens, k);
                if (!(prev is "class" or "struct" or "interface" or "enum" or "record" || isDelegate)) continue;
                if (prev is "class" or "struct" && IsConstraint(tokens, k - 1)) continue;
                var modifiers = new HashSet<string>(StringComparer.Ordinal);
                for (var m = k - 1; m >= 0 && tokens[m].IsIdentifier && IsKeyword(tokens[m].Text); m--) modifiers.Add(tokens[m].Text);
                yield return (tokens[k].Text, (modifiers.Contains("private") && !modifiers.Contains("protected")) || modifiers.Contains("file"));
            }
        }

        /// <summary>Each use of one of <paramref name="typeNames"/> as a type in the text, with its line (1-based).</summary>
        public static IReadOnlyList<(string Type, int Line)> TypeReferences(string source, IEnumerable<string> typeNames)
        {
            var types = new HashSet<string>(typeNames, StringComparer.Ordinal);
            var tokens = Tokenize(Strip(source));
            var skip = new bool[tokens.Count];
            var references = new List<(string, int)>();
            var members = new HashSet<string>(StringComparer.Ordinal);
            var notTypes = new HashSet<string>(StringComparer.Ordinal);

            // Using directives: namespaces count for nothing; static and alias targets only when in MoeLayers.
            for (var k = 0; k < tokens.Count; k++)
            {
                if (tokens[k].Text != "using" || (k > 0 && tokens[k - 1].Text is not (";" or "{" or "}" or "]" or "global"))) continue;
                var end = k + 1;
                while (end < tokens.Count && tokens[end].Text != ";") end++;
                var body = tokens.Skip(k + 1).Take(end - k - 1).ToList();
                var isStatic = body.Count > 0 && body[0].Text == "static";
                var isAlias = body.Count > 1 && body[0].IsIdentifier && body[1].Text == "=";
                var isNamespace = body.Count > 0 && body.All(t => t.IsIdentifier || t.Text is "." or "::");
                if (!(isStatic || isAlias || isNamespace) || body.Any(t => t.Text == "(")) continue; // a using statement or declaration
                var target = body.Skip(isStatic ? 1 : isAlias ? 2 : 0).ToList();
                if (isAlias) notTypes.Add(body[0].Text);
                if ((isStatic || isAlias) && IsInMoeLayers(target) && types.Contains(target[^1].Text))
                    references.Add((target[^1].Text, target[^1].Line));
                for (var s = k; s <= end && s < tokens.Count; s++) skip[s] = true;
                k = end;
            }

            for (var k = 1; k < tokens.Count; k++)
            {
                if (skip[k] || !tokens[k].IsIdentifier || IsKeyword(tokens[k].Text)) continue;
                // Enum bodies hold member names only.
                if (tokens[k - 1].Text == "enum")
                {
                    var open = k;
                    while (open < tokens.Count && tokens[open].Text != "{") open++;
                    for (var e = open; e < tokens.Count && tokens[e].Text != "}"; e++) skip[e] = true;
                    continue;
                }
                // Names the file declares (members, parameters, locals) and its generic type parameters.
                var declared = IsDeclaredName(tokens, k);
                if (declared) members.Add(tokens[k].Text);
                if (k + 1 < tokens.Count && tokens[k + 1].Text == "<" && (declared || TypeDeclarationKeywords.Contains(tokens[k - 1].Text)))
                {
                    for (var p = k + 2; p < tokens.Count && tokens[p].Text != ">"; p++)
                    {
                        if (tokens[p].IsIdentifier && tokens[p].Text is not ("in" or "out")) notTypes.Add(tokens[p].Text);
                        else if (tokens[p].Text is not ("," or "in" or "out")) break;
                    }
                }
            }

            for (var k = 0; k < tokens.Count; k++)
            {
                var token = tokens[k];
                if (skip[k] || !token.IsIdentifier || !types.Contains(token.Text)) continue;
                var prev = k > 0 ? tokens[k - 1].Text : "";
                var next = k + 1 < tokens.Count ? tokens[k + 1].Text : "";
                if (prev is "." or "::" or "->")
                {
                    if (IsQualifiedByMoeLayers(tokens, k)) references.Add((token.Text, token.Line));
                    continue;
                }
                if (TypeDeclarationKeywords.Contains(prev) || IsDeclaredName(tokens, k)) continue;
                if (prev is "{" or "(" or "," && next is "=" or ":") continue;
                if (notTypes.Contains(token.Text)) continue;
                if (members.Contains(token.Text) && !IsInTypePosition(tokens, k)) continue;
                references.Add((token.Text, token.Line));
            }
            return references.OrderBy(r => r.Item2).ToList();
        }

        /// <summary>Whether the identifier at k can only be a type: it declares something (Router r), or follows new/is/as/typeof/&lt;.</summary>
        private static bool IsInTypePosition(IReadOnlyList<Token> tokens, int k)
        {
            if (k > 0 && tokens[k - 1].Text is "new" or "is" or "as" or "typeof" or "<") return true;
            if (k + 1 >= tokens.Count) return false;
            var next = tokens[k + 1];
            if (next.IsIdentifier && !IsKeyword(next.Text)) return true;
            var after = k + 2 < tokens.Count ? tokens[k + 2] : null;
            return after != null && !next.SpaceBefore && ((next.Text == "?" && after.IsIdentifier && !IsKeyword(after.Text)) || (next.Text == "[" && after.Text == "]"));
        }

        private static bool IsQualifiedByMoeLayers(IReadOnlyList<Token> tokens, int k)
        {
            // MoeLayers.X or global::MoeLayers.X
            if (k < 2 || tokens[k - 1].Text != "." || tokens[k - 2].Text != "MoeLayers") return false;
            return k < 3 || tokens[k - 3].Text is not ("." or "->");
        }

        private static bool IsInMoeLayers(IReadOnlyList<Token> chain)
        {
            var start = chain.Count > 1 && chain[0].Text == "global" && chain[1].Text == "::" ? 2 : 0;
            return chain.Count > start + 2 && chain[start].Text == "MoeLayers" && chain[start + 1].Text == ".";
        }

        /// <summary>Whether the identifier at k follows a type, i.e. is the name of a member, parameter or local being declared.</summary>
        private static bool IsDeclaredName(IReadOnlyList<Token> tokens, int k)
        {
            if (k == 0) return false;
            var prev = tokens[k - 1];
            if (prev.IsIdentifier) return !KeywordsBeforeAType.Contains(prev.Text) && !TypeDeclarationKeywords.Contains(prev.Text);
            // A type ending in ?, *, ] or > written against it (long? Capacity, int[] Sizes, List<T> Items), not an operator.
            return prev.Text is "?" or "*" or "]" or ">" && !prev.SpaceBefore && tokens[k].SpaceBefore;
        }

        private static bool IsDelegateName(IReadOnlyList<Token> tokens, int k)
        {
            // delegate ReturnType Name( or delegate ReturnType Name<
            if (k + 1 >= tokens.Count || tokens[k + 1].Text is not ("(" or "<")) return false;
            for (var m = k - 1; m >= 0 && m >= k - 12; m--)
            {
                if (tokens[m].Text == "delegate") return m < k - 1;
                if (tokens[m].Text is ";" or "{" or "}" or "(" or ")" or "=" or "=>") return false;
            }
            return false;
        }

        private static bool IsConstraint(IReadOnlyList<Token> tokens, int keyword) =>
            keyword > 0 && tokens[keyword - 1].Text is ":" or "," && Enumerable.Range(0, keyword).Reverse().Select(i => tokens[i].Text)
                .TakeWhile(t => t is not (";" or "{" or "}")).Contains("where");

        private static bool IsKeyword(string text) =>
            KeywordsBeforeAType.Contains(text) || TypeDeclarationKeywords.Contains(text) || text is "void" or "var" or "int" or "long"
                or "bool" or "double" or "float" or "string" or "object" or "byte" or "char" or "short" or "uint" or "ulong"
                or "decimal" or "dynamic" or "sbyte" or "ushort" or "nint" or "nuint" or "true" or "false" or "null" or "base"
                or "get" or "set" or "init" or "value" or "add" or "remove" or "unmanaged" or "notnull";

        private sealed record Token(string Text, int Line, bool SpaceBefore)
        {
            public bool IsIdentifier => Text.Length > 0 && (char.IsLetter(Text[0]) || Text[0] == '_' || Text[0] == '@');
        }

        private static List<Token> Tokenize(string code)
        {
            var tokens = new List<Token>();
            var line = 1;
            var space = true;
            for (var i = 0; i < code.Length;)
            {
                var c = code[i];
                if (char.IsWhiteSpace(c))
                {
                    if (c == '\n') line++;
                    space = true;
                    i++;
                    continue;
                }
                var start = i;
                if (char.IsLetter(c) || c == '_' || (c == '@' && i + 1 < code.Length && (char.IsLetter(code[i + 1]) || code[i + 1] == '_')))
                {
                    i++;
                    while (i < code.Length && (char.IsLetterOrDigit(code[i]) || code[i] == '_')) i++;
                    tokens.Add(new Token(code.Substring(start, i - start).TrimStart('@'), line, space));
                }
                else if (char.IsDigit(c))
                {
                    while (i < code.Length && (char.IsLetterOrDigit(code[i]) || code[i] is '_' or '.')) i++;
                    tokens.Add(new Token("0", line, space));
                }
                else
                {
                    var two = i + 1 < code.Length ? code.Substring(i, 2) : "";
                    var length = two is "=>" or "==" or "!=" or "<=" or ">=" or "::" or "->" or "??" or "&&" or "||" or "+=" or "-=" ? 2 : 1;
                    tokens.Add(new Token(code.Substring(i, length), line, space));
                    i += length;
                }
                space = false;
            }
            return tokens;
        }

        /// <summary>Copies code and blanks comments, literals and directives; recurses into interpolation holes.</summary>
        private sealed class Stripper
        {
            private readonly string _s;
            private int _i;

            public Stripper(string source) => _s = source;

            public StringBuilder Output { get; } = new();

            private char At(int offset) => _i + offset < _s.Length ? _s[_i + offset] : '\0';

            /// <summary>Blanks one character (keeping line breaks).</summary>
            private void Blank(int count = 1)
            {
                for (var n = 0; n < count && _i < _s.Length; n++, _i++) Output.Append(_s[_i] == '\n' ? '\n' : ' ');
            }

            /// <summary>Code until the end, or (in a hole) until its closing brace or format specifier, not consumed.</summary>
            public void Code(bool inHole)
            {
                var depth = 0;
                var lineStart = true;
                while (_i < _s.Length)
                {
                    var c = _s[_i];
                    if (c == '/' && At(1) == '/')
                    {
                        while (_i < _s.Length && _s[_i] != '\n') Blank();
                        continue;
                    }
                    if (c == '/' && At(1) == '*')
                    {
                        Blank(2);
                        while (_i < _s.Length && !(_s[_i] == '*' && At(1) == '/')) Blank();
                        Blank(2);
                        continue;
                    }
                    if (c == '#' && lineStart && !inHole)
                    {
                        while (_i < _s.Length && _s[_i] != '\n') Blank();
                        continue;
                    }
                    if (TryString()) { lineStart = false; continue; }
                    if (c == '\'')
                    {
                        Blank();
                        while (_i < _s.Length && _s[_i] != '\'' && _s[_i] != '\n') Blank(_s[_i] == '\\' ? 2 : 1);
                        Blank();
                        lineStart = false;
                        continue;
                    }
                    if (inHole)
                    {
                        if (c is '(' or '[' or '{') depth++;
                        else if (c is ')' or ']') depth--;
                        else if (c == '}' && depth-- == 0) return;
                        else if (c == ':' && At(1) == ':')
                        {
                            Output.Append("::");
                            _i += 2;
                            continue;
                        }
                        else if (c == ':' && depth == 0) return;
                    }
                    if (c == '\n') lineStart = true;
                    else if (!char.IsWhiteSpace(c)) lineStart = false;
                    Output.Append(c);
                    _i++;
                }
            }

            /// <summary>A string literal starting here, if any: blanked, with its holes' code kept.</summary>
            private bool TryString()
            {
                var dollars = 0;
                var verbatim = false;
                var p = _i;
                while (p < _s.Length && (_s[p] == '$' || _s[p] == '@'))
                {
                    if (_s[p] == '$') dollars++;
                    else verbatim = true;
                    p++;
                }
                if (p >= _s.Length || _s[p] != '"' || (verbatim && p - _i > 2) || (p > _i && _i > 0 && (char.IsLetterOrDigit(_s[_i - 1]) || _s[_i - 1] == '_'))) return false;
                var quotes = 0;
                while (p + quotes < _s.Length && _s[p + quotes] == '"') quotes++;
                if (quotes >= 3 && !verbatim)
                {
                    // Raw string literal: blanked whole, up to the same run of quotes.
                    Blank(p - _i + quotes);
                    while (_i < _s.Length && !Enumerable.Range(0, quotes).All(q => At(q) == '"')) Blank();
                    Blank(quotes);
                    return true;
                }
                Blank(p - _i + 1);
                while (_i < _s.Length)
                {
                    var c = _s[_i];
                    if (verbatim && c == '"' && At(1) == '"') Blank(2);
                    else if (c == '"') { Blank(); return true; }
                    else if (!verbatim && c == '\\') Blank(2);
                    else if (!verbatim && c == '\n') return true; // unterminated: stop at the line's end
                    else if (dollars > 0 && (c == '{' || c == '}') && At(1) == c) Blank(2);
                    else if (dollars > 0 && c == '{')
                    {
                        Output.Append(';');
                        _i++;
                        Code(inHole: true);
                        while (_i < _s.Length && _s[_i] != '}') Blank(); // format specifier
                        if (_i < _s.Length)
                        {
                            Output.Append(';');
                            _i++;
                        }
                    }
                    else Blank();
                }
                return true;
            }
        }
    }
}
