/**
 * The only module that loads and types @weightkit/aoti-blob's addon.
 * @internal
 * @module
 */
import { type AddonBase, loadNativeAddon } from '@weightkit/core/internal';

/** One constants_info_ entry as the addon reports it. */
export interface NativeConstant {
  index: number;
  name: string;
  fqn: string;
  dtype: number;
  deviceType: number;
  shape: number[];
  stride: number[];
  offset: number;
  dataSize: number;
  layout: number;
  fromFolded: boolean;
  type: number;
}

export interface NativePlacedConstant extends NativeConstant {
  payloadOffset: number | null;
  viewOffset: number;
  viewBytes: number;
}

export interface NativeLocation {
  kind: 'pt2' | 'folder' | 'blob' | 'so';
  key: string;
  model: string;
  models: string[];
  payloadPath: string;
  /** The payload file as validated ('' when it was not read through a folder): a mapping of another file is a folder swapped mid-open. */
  payloadFileId: string;
  payloadOffset: number;
  payloadSize: number;
  padded: boolean;
  metadataJson: string;
  constants: NativePlacedConstant[];
}

export interface NativeLocateOptions {
  model?: string;
  appendedSize?: bigint;
  appendedMagic?: bigint;
}

interface AotiAddon extends AddonBase {
  locate(path: string, options?: NativeLocateOptions): Promise<NativeLocation>;
  locateSync(path: string, options?: NativeLocateOptions): NativeLocation;
  parseConstantsInfo(text: string): NativeConstant[];
}

let addon: AotiAddon | undefined;

export function aotiAddon(): AotiAddon {
  addon ??= loadNativeAddon<AotiAddon>(import.meta.url, 'weightkit_aoti');
  return addon;
}
