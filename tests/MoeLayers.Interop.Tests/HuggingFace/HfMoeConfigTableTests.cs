using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Reflection.Emit;
using System.Text.RegularExpressions;
using FluentAssertions;
using MoeLayers.Interop.Tests.Support;

namespace MoeLayers.Interop.Tests
{
    /// <summary>
    /// The "config.json → MoeLayerOptions" table of src/MoeLayers.Interop/README.md, which
    /// <see cref="HfMoeConfig.ToOptions"/>'s documentation points to, names every option ToOptions sets, and only
    /// properties that exist.
    /// </summary>
    public class HfMoeConfigTableTests
    {
        private static readonly string[] SyntheticConfigs =
        {
            // Every optional field set away from its default.
            """
            { "model_type": "deepseek_v3", "hidden_size": 8, "moe_intermediate_size": 4, "n_routed_experts": 8, "num_experts_per_tok": 2,
              "n_shared_experts": 2, "n_group": 4, "topk_group": 2, "routed_scaling_factor": 2.0, "norm_topk_prob": false,
              "router_aux_loss_coef": 0.05 }
            """,
            """{ "model_type": "olmoe", "hidden_size": 8, "intermediate_size": 4, "num_experts": 4, "num_experts_per_tok": 1 }""",
            """{ "model_type": "granitemoeshared", "hidden_size": 8, "intermediate_size": 4, "num_local_experts": 4, "shared_intermediate_size": 4 }""",
            """{ "model_type": "ernie4_5_moe", "hidden_size": 8, "moe_intermediate_size": 4, "moe_num_experts": 4, "moe_k": 2 }""",
        };

        [Fact]
        public void TheReadmeTableListsExactlyTheOptionsToOptionsSets()
        {
            var table = ReadmeTable();

            var assigned = SetterCalls(typeof(HfMoeConfig).GetMethod(nameof(HfMoeConfig.ToOptions))!, typeof(MoeLayerOptions));

            assigned.Should().HaveCountGreaterThan(10, "ToOptions sets the options in an object initializer");
            table.Options.Should().BeEquivalentTo(assigned, "the README table names each option ToOptions sets, and no other");
        }

        [Fact]
        public void EveryOptionThatAConfigChangesFromItsDefaultIsInTheReadmeTable()
        {
            var table = ReadmeTable();
            var defaults = new MoeLayerOptions();
            var properties = typeof(MoeLayerOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite).ToArray();
            var configs = Fixtures.Families.Select(f => HfMoeConfig.Read(Fixtures.Config(f)))
                .Concat(SyntheticConfigs.Select(json => HfMoeConfig.Parse(json)));

            var changed = configs.Select(c => c.ToOptions())
                .SelectMany(o => properties.Where(p => !Equals(p.GetValue(o), p.GetValue(defaults))).Select(p => p.Name))
                .Distinct()
                .ToList();

            changed.Should().HaveCountGreaterThan(10);
            table.Options.Should().Contain(changed, "every option a config.json changes is documented in the README table");
        }

        [Fact]
        public void TheTableNamesOnlyRealPropertiesOfBothClasses()
        {
            var table = ReadmeTable();

            var options = typeof(MoeLayerOptions).GetProperties().Select(p => p.Name);
            var config = typeof(HfMoeConfig).GetProperties().Select(p => p.Name);
            table.Options.Should().OnlyContain(name => options.Contains(name));
            table.ConfigProperties.Should().OnlyContain(name => config.Contains(name));
            table.ConfigProperties.Should().Contain(config, "every HfMoeConfig property has its row");
        }

        /// <summary>The backticked names of the table's HfMoeConfig and MoeLayerOptions columns ("—" cells left out).</summary>
        private static (List<string> ConfigProperties, List<string> Options) ReadmeTable()
        {
            var readme = File.ReadAllLines(Path.Combine(RepositoryRoot(), "src", "MoeLayers.Interop", "README.md"));
            var header = Array.FindIndex(readme, line => line.StartsWith("| config.json field(s) |", StringComparison.Ordinal));
            header.Should().BeGreaterThanOrEqualTo(0, "the README has the config.json → MoeLayerOptions table");
            var columns = Cells(readme[header]);
            var configColumn = columns.FindIndex(c => c.Contains("HfMoeConfig"));
            var optionsColumn = columns.FindIndex(c => c.Contains("MoeLayerOptions"));
            var rows = readme.Skip(header + 2).TakeWhile(line => line.StartsWith('|')).Select(Cells).ToList();
            rows.Should().OnlyContain(r => r.Count == columns.Count, "every row has {0} cells", columns.Count);

            static IEnumerable<string> Names(string cell) => Regex.Matches(cell, "`([A-Za-z]+)`").Select(m => m.Groups[1].Value);
            return (rows.SelectMany(r => Names(r[configColumn])).Distinct().ToList(), rows.SelectMany(r => Names(r[optionsColumn])).ToList());
        }

        private static List<string> Cells(string row) => row.Trim().Trim('|').Split('|').Select(c => c.Trim()).ToList();

        /// <summary>The property setters of <paramref name="target"/> that the method's IL calls.</summary>
        private static List<string> SetterCalls(MethodInfo method, Type target)
        {
            var oneByte = new Dictionary<byte, OpCode>();
            var twoByte = new Dictionary<byte, OpCode>();
            foreach (var code in typeof(OpCodes).GetFields(BindingFlags.Public | BindingFlags.Static).Select(f => (OpCode)f.GetValue(null)!))
            {
                if (code.Size == 1) oneByte[(byte)code.Value] = code;
                else twoByte[(byte)(code.Value & 0xff)] = code;
            }
            var il = method.GetMethodBody()!.GetILAsByteArray()!;
            var setters = new List<string>();
            for (var i = 0; i < il.Length;)
            {
                var code = il[i] == 0xFE ? twoByte[il[i + 1]] : oneByte[il[i]];
                i += code.Size;
                if (code.OperandType == OperandType.InlineMethod)
                {
                    var called = method.Module.ResolveMethod(BitConverter.ToInt32(il, i));
                    if (called is MethodInfo { IsSpecialName: true } m && m.DeclaringType == target && m.Name.StartsWith("set_", StringComparison.Ordinal))
                        setters.Add(m.Name.Substring(4));
                }
                i += code.OperandType switch
                {
                    OperandType.InlineNone => 0,
                    OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
                    OperandType.InlineVar => 2,
                    OperandType.InlineI8 or OperandType.InlineR => 8,
                    OperandType.InlineSwitch => 4 + 4 * BitConverter.ToInt32(il, i),
                    _ => 4,
                };
            }
            return setters;
        }

        private static string RepositoryRoot()
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "MoeLayers.sln"))) return dir.FullName;
            }
            throw new InvalidOperationException("MoeLayers.sln not found above " + AppContext.BaseDirectory);
        }
    }
}
