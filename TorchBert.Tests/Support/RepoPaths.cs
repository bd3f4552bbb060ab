namespace TorchBert.Tests.Support;

/// <summary>Where the checkout and NuGet's global packages folder are, for tests that read the repository's files.</summary>
internal static class RepoPaths
{
    /// <summary>The checkout the tests were built from (the folder holding TorchBert.sln above the test binaries).</summary>
    public static string Root()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "TorchBert.sln"))) return dir.FullName;
        throw new InvalidOperationException($"no TorchBert.sln above {AppContext.BaseDirectory}");
    }

    /// <summary>NuGet's global packages folder: $NUGET_PACKAGES, else ~/.nuget/packages.</summary>
    public static string GlobalPackagesFolder() =>
        Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } p
            ? p
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
}
