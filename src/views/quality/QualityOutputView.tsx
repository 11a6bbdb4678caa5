import type { QualityOutput } from '@opsbook/schema';
import type { PlotlyLoader } from '../plotly';
import { CheckResultView } from './CheckResultView';
import { DriftView } from './DriftView';
import { ProfileView } from './ProfileView';
import type { ArrowLoader } from './sampleTable';

export interface QualityOutputViewProps {
  /** The data of an `application/vnd.opsbook.quality+json` output. */
  output: QualityOutput;
  /** Opens the run a check result was recorded against. */
  onOpenRun?: (runId: string) => void;
  /** Supplies plotly.js for the histograms; defaults to the bundled basic dist. */
  plotly?: PlotlyLoader;
  /** Supplies apache-arrow to decode the typed samples of a check result. */
  arrow?: ArrowLoader;
}

/** A quality output (`%check`, `%%check`, `%drift`, `%opsbook profile`) drawn with the view of its kind. */
export function QualityOutputView({ output, onOpenRun, plotly, arrow }: QualityOutputViewProps): JSX.Element {
  switch (output.kind) {
    case 'check':
      return <CheckResultView result={output.result} onOpenRun={onOpenRun} plotly={plotly} arrow={arrow} />;
    case 'profile':
      return <ProfileView profile={output.profile} />;
    case 'drift':
      return <DriftView report={output.drift} plotly={plotly} />;
  }
}
