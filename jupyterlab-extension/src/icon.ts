import { LabIcon } from '@jupyterlab/ui-components';

/** A notebook page with a rising line: tracking in the notebook. */
const OPSBOOK_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="16" height="16">
  <g class="jp-icon3" fill="#616161">
    <path d="M5 2h11l4 4v16H5z M7 4v16h11V7h-3V4z"/>
    <path d="M8 17l3-4 2.5 2 3.5-5 1 .8-4.3 6.1-2.5-2-2.2 3z"/>
  </g>
</svg>`;

export const opsbookIcon = new LabIcon({ name: 'opsbook:logo', svgstr: OPSBOOK_SVG });

/** A table with a check mark: the Data Quality panel. */
const QUALITY_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="16" height="16">
  <g class="jp-icon3" fill="#616161">
    <path d="M3 4h18v6h-2V8H5v4h6v2H5v4h6v2H3z M5 6h14V6H5z"/>
    <path d="M12.5 17.2l1.4-1.4 2.3 2.3 4.9-4.9 1.4 1.4-6.3 6.3z"/>
  </g>
</svg>`;

export const qualityIcon = new LabIcon({ name: 'opsbook:quality', svgstr: QUALITY_SVG });
