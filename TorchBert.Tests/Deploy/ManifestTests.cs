using System.Text.RegularExpressions;
using k8s;
using k8s.Models;
using YamlDotNet.RepresentationModel;

namespace TorchBert.Tests.Deploy;

/// <summary>Prometheus Operator's ServiceMonitor (monitoring.coreos.com/v1), the fields the manifests use.</summary>
public sealed class ServiceMonitor : IKubernetesObject<V1ObjectMeta>
{
    public string ApiVersion { get; set; } = "";
    public string Kind { get; set; } = "";
    public V1ObjectMeta Metadata { get; set; } = new();
    public ServiceMonitorSpec Spec { get; set; } = new();
}

public sealed class ServiceMonitorSpec
{
    public V1LabelSelector Selector { get; set; } = new();
    public List<ServiceMonitorEndpoint> Endpoints { get; set; } = [];
}

public sealed class ServiceMonitorEndpoint
{
    public string? Port { get; set; }
    public string? Path { get; set; }
    public string? Interval { get; set; }
}

/// <summary>kustomize's Kustomization (the fields used).</summary>
public sealed class Kustomization : IKubernetesObject
{
    public string ApiVersion { get; set; } = "";
    public string Kind { get; set; } = "";
    public List<string> Resources { get; set; } = [];
}

/// <summary>
/// deploy/k8s parsed as typed objects by the official Kubernetes client (strict: an unknown or misspelt field fails),
/// then checked against each other, the Dockerfile and the server: probe paths are server routes, ports agree, the
/// grace period covers preStop + drain, selectors match, the HPA's metrics are the adapter rules' and the Indexed
/// Job's JOB_COMPLETIONS equals its completions.
/// </summary>
public sealed class ManifestTests
{
    private static readonly Dictionary<string, Type> TypeMap = new()
    {
        ["monitoring.coreos.com/v1/ServiceMonitor"] = typeof(ServiceMonitor),
        ["kustomize.config.k8s.io/v1beta1/Kustomization"] = typeof(Kustomization),
    };

    private static readonly Lazy<Dictionary<string, List<object>>> Loaded = new(() =>
        Directory.GetFiles(DeployFiles.Path_("k8s"), "*.yaml").Order(StringComparer.Ordinal)
            .ToDictionary(f => Path.GetFileName(f), f => KubernetesYaml.LoadAllFromString(File.ReadAllText(f), TypeMap, strict: true)));

    private static IEnumerable<object> All => Loaded.Value.Values.SelectMany(x => x);
    private static T One<T>() => All.OfType<T>().Should().ContainSingle().Subject;

    private static V1Deployment Deployment => One<V1Deployment>();
    private static V1Container Server => Deployment.Spec.Template.Spec.Containers.Should().ContainSingle().Subject;

    private static int ContainerPort(V1Container c, IntOrString port) =>
        int.TryParse(port.Value, out var n) ? n : c.Ports.Should().ContainSingle(p => p.Name == port.Value, $"port '{port.Value}' is a named container port").Subject.ContainerPort;

    /// <summary>The value after <paramref name="option"/> in the container's args, or null.</summary>
    private static string? Arg(V1Container c, string option)
    {
        var args = c.Args ?? [];
        var i = args.IndexOf(option);
        return i >= 0 && i + 1 < args.Count ? args[i + 1] : null;
    }

    [Fact]
    public void Every_manifest_parses_as_a_typed_object_with_the_expected_kinds()
    {
        Loaded.Value.Keys.Should().BeEquivalentTo(["corpus-pvc.yaml", "deployment.yaml", "hpa.yaml", "job-embed.yaml", "kustomization.yaml", "pdb.yaml",
                                                   "prometheus-adapter-rules.yaml", "service.yaml", "servicemonitor.yaml"]);
        All.Select(o => o.GetType()).Should().BeEquivalentTo([typeof(V1Deployment), typeof(V1Service), typeof(V2HorizontalPodAutoscaler), typeof(V1PodDisruptionBudget),
            typeof(ServiceMonitor), typeof(V1ConfigMap), typeof(V1Job), typeof(V1PersistentVolumeClaim), typeof(Kustomization)]);
        foreach (var o in All.OfType<IKubernetesObject<V1ObjectMeta>>()) o.Metadata.Name.Should().NotBeNullOrEmpty();
    }

    [Fact]
    public void Strict_parsing_rejects_a_misspelt_field()
    {
        var yaml = File.ReadAllText(DeployFiles.Path_("k8s", "deployment.yaml")).Replace("readinessProbe:", "readynessProbe:");
        FluentActions.Invoking(() => KubernetesYaml.LoadAllFromString(yaml, TypeMap, strict: true)).Should().Throw<Exception>();
    }

    [Fact]
    public void The_kustomization_lists_the_server_manifests_and_they_exist()
    {
        var k = One<Kustomization>();
        k.Resources.Should().BeEquivalentTo(["deployment.yaml", "service.yaml", "pdb.yaml", "hpa.yaml", "servicemonitor.yaml", "prometheus-adapter-rules.yaml"]);
        foreach (var r in k.Resources) File.Exists(DeployFiles.Path_("k8s", r)).Should().BeTrue(r);
    }

    [Fact]
    public void Probes_ask_server_routes_on_the_server_port_health_for_startup_and_readiness_ping_for_liveness()
    {
        var c = Server;
        foreach (var (name, probe) in new[] { ("startup", c.StartupProbe), ("readiness", c.ReadinessProbe), ("liveness", c.LivenessProbe) })
        {
            probe.Should().NotBeNull(name);
            DeployFiles.ProbePaths.Should().Contain(probe.HttpGet.Path, $"the {name} probe's path is a route of torchbert serve");
            ContainerPort(c, probe.HttpGet.Port).Should().Be(ServerContract.DefaultPort, name);
        }
        c.StartupProbe.HttpGet.Path.Should().Be(ServerContract.Health, "/health is 200 only after a real forward");
        c.ReadinessProbe.HttpGet.Path.Should().Be(ServerContract.Health, "/health turns 503 while draining, so the pod leaves the endpoints");
        c.LivenessProbe.HttpGet.Path.Should().Be(ServerContract.Ping);
        ((long)c.LivenessProbe.PeriodSeconds!.Value * c.LivenessProbe.FailureThreshold!.Value).Should().BeGreaterThan(Deployment.Spec.Template.Spec.TerminationGracePeriodSeconds!.Value,
            "/ping answers 503 while draining (TEI's alias of /health): liveness must not restart a pod before its drain ends");
        (c.StartupProbe.PeriodSeconds * c.StartupProbe.FailureThreshold).Should().BeGreaterThanOrEqualTo(300, "model download and load get minutes");
    }

    [Fact]
    public void The_grace_period_covers_pre_stop_and_the_drain()
    {
        var spec = Deployment.Spec.Template.Spec;
        Server.Lifecycle.PreStop.Sleep.Should().NotBeNull("preStop sleeps so endpoints drop the pod first");
        var preStop = Server.Lifecycle.PreStop.Sleep.Seconds;
        preStop.Should().BeGreaterThan(0);
        var drain = Arg(Server, "--drain-timeout") is { } d ? int.Parse(d) : ServerContract.DefaultDrainTimeoutSeconds;
        spec.TerminationGracePeriodSeconds.Should().BeGreaterThan(preStop + drain, "Kubernetes sends SIGKILL when the grace period ends");
    }

    [Fact]
    public void Ports_agree_across_the_deployment_the_service_the_service_monitor_and_the_dockerfile()
    {
        var c = Server;
        var containerPort = c.Ports.Should().ContainSingle().Subject;
        containerPort.Name.Should().Be("http");
        Arg(c, "--port").Should().Be(containerPort.ContainerPort.ToString(), "the server listens where the container port says");
        var svcPort = One<V1Service>().Spec.Ports.Should().ContainSingle().Subject;
        ContainerPort(c, svcPort.TargetPort).Should().Be(containerPort.ContainerPort);
        One<ServiceMonitor>().Spec.Endpoints.Should().ContainSingle().Which.Port.Should().Be(svcPort.Name, "ServiceMonitor endpoints name a Service port");
        One<ServiceMonitor>().Spec.Endpoints[0].Path.Should().Be(ServerContract.Metrics);
        foreach (var file in new[] { "Dockerfile", "Dockerfile.cuda" })
        {
            var expose = Dockerfile.Parse(DeployFiles.Path_("docker", file)).Where(i => i.Keyword == "EXPOSE").Select(i => i.Arguments.Trim()).Distinct();
            expose.Should().Equal([containerPort.ContainerPort.ToString()], file);
        }
    }

    [Fact]
    public void Selectors_match_the_pod_labels()
    {
        var labels = Deployment.Spec.Template.Metadata.Labels;
        bool Matches(IDictionary<string, string> selector) => selector.All(kv => labels.TryGetValue(kv.Key, out var v) && v == kv.Value);
        Matches(Deployment.Spec.Selector.MatchLabels).Should().BeTrue();
        Matches(One<V1Service>().Spec.Selector).Should().BeTrue();
        Matches(One<V1PodDisruptionBudget>().Spec.Selector.MatchLabels).Should().BeTrue();
        Matches(One<ServiceMonitor>().Spec.Selector.MatchLabels).Should().BeTrue("the ServiceMonitor selects the Service by its labels");
        One<V1Service>().Metadata.Labels.Should().Contain(One<ServiceMonitor>().Spec.Selector.MatchLabels);
        var job = One<V1Job>().Spec.Template.Metadata.Labels;
        One<V1Service>().Spec.Selector.All(kv => job.TryGetValue(kv.Key, out var v) && v == kv.Value).Should().BeFalse("the Service must not route requests to corpus-job pods");
    }

    [Fact]
    public void Pods_run_non_root_on_a_read_only_root_filesystem_with_writable_volumes_for_the_caches()
    {
        foreach (var (what, pod) in new[] { ("deployment", Deployment.Spec.Template.Spec), ("job", One<V1Job>().Spec.Template.Spec) })
        {
            pod.SecurityContext.RunAsNonRoot.Should().BeTrue(what);
            pod.SecurityContext.RunAsUser.Should().Be(1654, $"{what}: the Dockerfile's USER");
            var c = pod.Containers.Should().ContainSingle().Subject;
            c.SecurityContext.ReadOnlyRootFilesystem.Should().BeTrue(what);
            c.SecurityContext.AllowPrivilegeEscalation.Should().BeFalse(what);
            c.SecurityContext.Capabilities.Drop.Should().Contain("ALL");
            c.Resources.Requests.Should().ContainKeys("cpu", "memory");
            c.Resources.Limits.Should().ContainKey("memory");
            var mounts = c.VolumeMounts.Select(m => m.MountPath).ToList();
            mounts.Should().Contain("/tmp", what);
            var hfHome = c.Env.Should().ContainSingle(e => e.Name == "HF_HOME").Subject.Value;
            mounts.Should().Contain(m => hfHome.StartsWith(m + "/"), $"{what}: HF_HOME ({hfHome}) is on a volume");
            foreach (var m in c.VolumeMounts) pod.Volumes.Should().Contain(v => v.Name == m.Name, $"{what}: volume {m.Name} is declared");
        }
    }

    [Fact]
    public void The_hpa_scales_the_deployment_on_metrics_the_adapter_rules_define_from_the_servers_te_metrics()
    {
        var hpa = One<V2HorizontalPodAutoscaler>();
        hpa.ApiVersion.Should().Be("autoscaling/v2");
        hpa.Spec.ScaleTargetRef.Kind.Should().Be("Deployment");
        hpa.Spec.ScaleTargetRef.Name.Should().Be(Deployment.Metadata.Name);
        hpa.Spec.MinReplicas.Should().BeGreaterThanOrEqualTo(2, "the PDB lets one pod go at a time");
        var metricNames = hpa.Spec.Metrics.Select(m => m.Pods.Metric.Name).ToList();

        var config = One<V1ConfigMap>().Data["config.yaml"];
        var yaml = new YamlStream();
        yaml.Load(new StringReader(config));
        var rules = (YamlSequenceNode)((YamlMappingNode)yaml.Documents[0].RootNode)["rules"];
        var defined = new Dictionary<string, string>();
        foreach (YamlMappingNode rule in rules)
        {
            var name = (YamlMappingNode)rule["name"];
            var series = Regex.Match(((YamlScalarNode)rule["seriesQuery"]).Value!, @"^(\w+)\{").Groups[1].Value;
            defined[((YamlScalarNode)name["as"]).Value!] = ((YamlScalarNode)rule["metricsQuery"]).Value!.Replace("<<.Series>>", series);
            series.Should().BeOneOf(ServerContract.TeMetrics.Select(n => n is "te_request_inference_duration" ? n + "_sum" : n));
        }
        metricNames.Should().BeEquivalentTo(defined.Keys, "every HPA metric comes from an adapter rule");
        defined["torchbert_queue_size"].Should().Contain("te_queue_size");
        defined["torchbert_inference_seconds"].Should().Contain("te_request_inference_duration_sum").And.Contain("te_request_inference_duration_count");
    }

    [Fact]
    public void The_corpus_job_is_indexed_and_its_pods_know_the_shard_count()
    {
        var job = One<V1Job>();
        job.Spec.CompletionMode.Should().Be("Indexed");
        var c = job.Spec.Template.Spec.Containers.Should().ContainSingle().Subject;
        c.Env.Should().ContainSingle(e => e.Name == "JOB_COMPLETIONS").Which.Value.Should().Be(job.Spec.Completions.ToString(),
            "Kubernetes sets JOB_COMPLETION_INDEX only; the shard count must equal completions");
        c.Args.Should().StartWith(["embed"]).And.Contain("--input").And.Contain("--output").And.NotContain("--shard");
        Arg(c, "--output").Should().EndWith("/", "an output folder makes embed a corpus job");
        job.Spec.Template.Spec.RestartPolicy.Should().Be("Never", "backoffLimitPerIndex needs restartPolicy Never");
        var claim = job.Spec.Template.Spec.Volumes.Single(v => v.PersistentVolumeClaim is not null).PersistentVolumeClaim.ClaimName;
        One<V1PersistentVolumeClaim>().Metadata.Name.Should().Be(claim);
        One<V1PersistentVolumeClaim>().Spec.AccessModes.Should().Contain("ReadWriteMany", "every shard's pod writes into the same folder");
    }
}
