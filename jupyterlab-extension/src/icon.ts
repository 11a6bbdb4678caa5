import { LabIcon } from '@jupyterlab/ui-components';

/** A notebook page with a rising line: tracking in the notebook. */
const OPSBOOK_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="16" height="16">
  <g class="jp-icon3" fill="#616161">
    <path d="M5 2h11l4 4v16H5z M7 4v16h11V7h-3V4z"/>
    <path d="M8 17l3-4 2.5 2 3.5-5 1 .8-4.3 6.1-2.5-2-2.2 3z"/>
  </g>
</svg>`;

export const opsbookIcon = new LabIcon({ name: 'opsbook:logo', svgstr: OPSBOOK_SVG });
