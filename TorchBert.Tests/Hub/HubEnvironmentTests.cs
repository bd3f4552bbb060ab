using TorchBert.Hub;

namespace TorchBert.Tests.Hub;

/// <summary>The environment variables, read as huggingface_hub's constants.py / utils/_auth.py read them.</summary>
public sealed class HubEnvironmentTests : IDisposable
{
    private readonly string temp = Path.Combine(Path.GetTempPath(), $"torchbert-hubenv-{Guid.NewGuid():N}");

    public HubEnvironmentTests() => Directory.CreateDirectory(temp);

    public void Dispose() => Directory.Delete(temp, recursive: true);

    private static HubOptions Read(params (string Key, string Value)[] vars)
    {
        var d = vars.ToDictionary(v => v.Key, v => v.Value);
        return HubOptions.FromEnvironment(k => d.GetValueOrDefault(k));
    }

    [Fact]
    public void Cache_folder_precedence()
    {
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        Read().CacheDir.Should().Be(Path.Combine(home, ".cache", "huggingface", "hub"));
        Read(("XDG_CACHE_HOME", "/xdg")).CacheDir.Should().Be("/xdg/huggingface/hub");
        Read(("HF_HOME", "/hf")).CacheDir.Should().Be("/hf/hub");
        Read(("HF_HOME", "~/hf")).CacheDir.Should().Be(home + "/hf/hub");
        Read(("HF_HOME", "/hf"), ("HUGGINGFACE_HUB_CACHE", "/legacy")).CacheDir.Should().Be("/legacy");
        Read(("HF_HUB_CACHE", "/new"), ("HUGGINGFACE_HUB_CACHE", "/legacy")).CacheDir.Should().Be("/new");
    }

    [Theory]
    [InlineData(null, null, false)]
    [InlineData("1", null, true)]
    [InlineData("TRUE", null, true)]
    [InlineData("yes", null, true)]
    [InlineData("on", null, true)]
    [InlineData(null, "1", true)]
    [InlineData("0", "1", false)]   // Python's `HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE`: a set "0" hides the other
    [InlineData("no", null, false)]
    public void Offline_as_python_reads_it(string? hub, string? transformers, bool offline)
    {
        var vars = new List<(string, string)>();
        if (hub is not null) vars.Add(("HF_HUB_OFFLINE", hub));
        if (transformers is not null) vars.Add(("TRANSFORMERS_OFFLINE", transformers));
        Read([.. vars]).Offline.Should().Be(offline);
    }

    [Fact]
    public void Endpoint_token_and_timeouts()
    {
        Read().Endpoint.Should().Be("https://huggingface.co");
        Read(("HF_ENDPOINT", "https://hub.example.com/")).Endpoint.Should().Be("https://hub.example.com");
        Read(("HF_HUB_ETAG_TIMEOUT", "2.5"), ("HF_HUB_DOWNLOAD_TIMEOUT", "30")).Should().Match<HubOptions>(o =>
            o.EtagTimeout == TimeSpan.FromSeconds(2.5) && o.DownloadTimeout == TimeSpan.FromSeconds(30));

        File.WriteAllText(Path.Combine(temp, "token"), "hf_fromfile\n");
        Read(("HF_HOME", temp)).Token.Should().Be("hf_fromfile");
        Read(("HF_HOME", temp), ("HF_TOKEN", "hf_env")).Token.Should().Be("hf_env");
        Read(("HF_HOME", temp), ("HUGGING_FACE_HUB_TOKEN", "hf_legacy")).Token.Should().Be("hf_legacy");
        File.WriteAllText(Path.Combine(temp, "other"), "  hf_path  ");
        Read(("HF_HOME", temp), ("HF_TOKEN_PATH", Path.Combine(temp, "other"))).Token.Should().Be("hf_path");
        Read(("HF_HOME", temp), ("HF_HUB_DISABLE_IMPLICIT_TOKEN", "1")).Token.Should().BeNull();
        Read(("HF_HOME", Path.Combine(temp, "none"))).Token.Should().BeNull();
    }

    [Fact]
    public void The_test_process_itself_is_offline_with_a_private_cache()
    {
        var current = HubOptions.FromEnvironment();
        current.Offline.Should().BeTrue("tests must never reach huggingface.co");
        current.CacheDir.Should().StartWith(Path.GetTempPath());
    }
}
