import type { OpsbookClient } from '@opsbook/core/client';
import { ArtifactsList } from '@opsbook/core/views';
import type { Artifact } from '@opsbook/schema';
import { useCallback, useEffect, useState } from 'react';
import { describeError } from './errors';

/**
 * The artifacts section of a run view. It reads the list when mounted and again whenever `readKey`
 * changes (the run view passes its latest read of the run, so it follows the run view's own reads).
 */
export function RunArtifacts({ client, runId, readKey }: { client: OpsbookClient; runId: string; readKey: unknown }): JSX.Element {
  const [artifacts, setArtifacts] = useState<Artifact[] | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  useEffect(() => {
    let cancelled = false;
    client
      .listArtifacts(runId)
      .then((list) => {
        if (cancelled) return;
        setError(undefined);
        setArtifacts((known) => (JSON.stringify(known) === JSON.stringify(list.artifacts) ? known : list.artifacts));
      })
      .catch((reason: unknown) => !cancelled && setError(describeError(reason)));
    return () => {
      cancelled = true;
    };
  }, [client, runId, readKey]);
  const loadContent = useCallback((artifact: Artifact) => client.artifactContent(artifact.run_id, artifact.name), [client]);
  return (
    <section className="opsbook-view opsbook-RunArtifacts" aria-labelledby={`opsbook-artifacts-${runId}`}>
      <h3 id={`opsbook-artifacts-${runId}`}>Artifacts</h3>
      <ArtifactsList artifacts={artifacts} error={error} loadContent={loadContent} />
    </section>
  );
}
