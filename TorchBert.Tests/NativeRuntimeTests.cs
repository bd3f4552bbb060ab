namespace TorchBert.Tests;

public class NativeRuntimeTests
{
    [Fact]
    public void Loads_here() => NativeRuntime.EnsureLoaded();

    [Fact]
    public void Old_libstdcxx_gets_a_one_line_fix()
    {
        var fake = Path.GetTempFileName();
        File.WriteAllBytes(fake, System.Text.Encoding.ASCII.GetBytes("\0GLIBCXX_3.4.29\0GLIBCXX_3.4.30\0"));
        try
        {
            var e = new TypeInitializationException("TorchSharp.torch", new DllNotFoundException("line1\n  at ... 40 more lines"));
            var message = NativeRuntime.Diagnose(e, fake);
            message.Should().Contain("GLIBCXX_3.4.32").And.Contain("scripts/setup.sh").And.NotContain("\n");
        }
        finally { File.Delete(fake); }
    }

    [Fact]
    public void Other_load_failures_name_the_first_line_of_the_cause()
    {
        var fake = Path.GetTempFileName();
        File.WriteAllBytes(fake, System.Text.Encoding.ASCII.GetBytes("GLIBCXX_3.4.32"));
        try
        {
            var e = new TypeInitializationException("TorchSharp.torch", new DllNotFoundException("libLibTorchSharp.so: cannot open\n trace"));
            NativeRuntime.Diagnose(e, fake).Should().Contain("libLibTorchSharp.so: cannot open").And.NotContain("\n");
        }
        finally { File.Delete(fake); }
    }
}
