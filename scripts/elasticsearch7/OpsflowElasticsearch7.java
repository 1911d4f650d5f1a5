// OpsflowElasticsearch7: a single-node Elasticsearch 7.10.2 (the last Apache-2.0 release) for
// running the esclient contract suite against Elasticsearch too, started by scripts/es7-contract
// from the Maven Central jars of pom.xml beside it (no distribution tarball can be downloaded here).
//
//   java -cp '<lib>/*' scripts/elasticsearch7/OpsflowElasticsearch7.java <home> <data> <host> <http-port> <transport-port>
//
// Elasticsearch's own launcher loads modules from a modules/ folder; embedded like this, the modules
// opsflow's calls need are passed as classpath plugins instead (the Node constructor that takes
// them is protected, hence the subclass). The node closes cleanly on SIGTERM.
import java.nio.file.Path;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.node.InternalSettingsPreparer;
import org.elasticsearch.node.Node;
import org.elasticsearch.plugins.Plugin;

public class OpsflowElasticsearch7 {
    /** A Node with the classpath plugins an OpenSearch distribution would load from modules/. */
    static final class EmbeddedNode extends Node {
        EmbeddedNode(Environment env, Collection<Class<? extends Plugin>> plugins) {
            super(env, plugins, true);
        }
    }

    static final List<Class<? extends Plugin>> PLUGINS = List.of(
            org.elasticsearch.transport.Netty4Plugin.class,             // HTTP and transport
            org.elasticsearch.analysis.common.CommonAnalysisPlugin.class, // analyzers, normalizers
            org.elasticsearch.index.reindex.ReindexPlugin.class,         // _reindex, _delete_by_query
            org.elasticsearch.painless.PainlessPlugin.class,             // scripts
            org.elasticsearch.index.mapper.MapperExtrasPlugin.class      // scaled_float, rank_feature, ...
    );

    public static void main(String[] args) throws Exception {
        if (args.length != 5) {
            System.err.println("usage: OpsflowElasticsearch7 <home> <data> <host> <http-port> <transport-port>");
            System.exit(2);
        }
        Settings settings = Settings.builder()
                .put("path.home", args[0])
                .put("path.data", args[1])
                .put("path.logs", Path.of(args[0], "logs").toString())
                .put("cluster.name", "opsflow-es7")
                .put("node.name", "opsflow-es7-1")
                .put("discovery.type", "single-node")
                .put("network.host", args[2])
                .put("http.port", args[3])
                .put("transport.port", args[4])
                .put("http.type", "netty4")
                .put("transport.type", "netty4")
                // a dev disk may be fuller than production thresholds allow
                .put("cluster.routing.allocation.disk.threshold_enabled", false)
                // tests create and drop many indices; no wildcard deletes by accident
                .put("action.destructive_requires_name", true)
                .build();
        Environment env = InternalSettingsPreparer.prepareEnvironment(settings, Map.of(), null, () -> "opsflow-es7-1");
        Node node = new EmbeddedNode(env, PLUGINS);
        CountDownLatch closed = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
                node.awaitClose(20, TimeUnit.SECONDS);
            } catch (Exception e) {
                e.printStackTrace();
            } finally {
                closed.countDown();
            }
        }, "opsflow-es7-shutdown"));
        node.start();
        System.out.println("opsflow: Elasticsearch 7 node started on http://" + args[2] + ":" + args[3]);
        closed.await();
    }
}
