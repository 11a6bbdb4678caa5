/** Kubernetes deployment: manifests, server-side apply through @kubernetes/client-node, rollouts, gates, records. */
export { DeployService, PARITY_TOLERANCE, type DeployEnvironment } from './service';
export { NoClusterError, ClusterRejectedError, kubeContexts, openCluster, kubeconfigFiles, Cluster } from './cluster';
export { renderManifests, settingsOf, imageFor, splitReplicas, FIELD_MANAGER, labelSelector, selectorLabels } from './manifests';
